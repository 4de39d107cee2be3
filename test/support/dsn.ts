// A delivery status notification shaped as Postfix writes them (RFC 3464 multipart/report), for the
// outcomes a test fixture cannot cover in one file: failed, delayed, delivered. The real Postfix one
// is in test/smtp-postfix.test.ts; this one lets a test pick the action.

export function dsn(o: { to: string; envelopeId?: string; messageId?: string; action: 'failed' | 'delayed' | 'delivered'; status: string; diagnostic?: string }): string {
  const lines = [
    'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)',
    `Subject: ${o.action === 'delayed' ? 'Delayed Mail (still being retried)' : o.action === 'delivered' ? 'Successful Mail Delivery Report' : 'Undelivered Mail Returned to Sender'}`,
    `To: ${o.to}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is the mail system: your message was ${o.action}.`,
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.com',
    ...(o.envelopeId ? [`Original-Envelope-Id: ${o.envelopeId}`] : []),
    '',
    'Final-Recipient: rfc822; bob@example.com',
    `Action: ${o.action}`,
    `Status: ${o.status}`,
    ...(o.diagnostic ? [`Diagnostic-Code: smtp; ${o.diagnostic}`] : []),
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    'Subject: Hi',
    'From: news@aviary.test',
    ...(o.messageId ? [`Message-ID: <${o.messageId}>`] : []),
    '',
    '--B1--',
    '',
  ];
  return lines.join('\r\n');
}
