import assert from 'node:assert/strict';
import { test } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer';
import { renderMail } from '../src/connectors/smtp/render-mime.ts';

// nodemailer's own build() is the oracle: renderMail must give the same bytes for every shape of mail
// Aviary sends. The tree is compiled once per side, so the random boundary and the generated Date
// would differ; both are fixed here (baseBoundary, date), as nodemailer's options allow.

const base = { from: { name: 'Bench', address: 'news@aviary.test' }, to: ['a@example.com'], messageId: '<m1@aviary.test>', date: new Date('2026-12-03T10:00:00Z'), envelope: { from: 'bounce+m1@aviary.test', to: ['a@example.com'] } };
const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const long = 'word '.repeat(400);
const cases: Record<string, object> = {
  'text only, ascii': { text: 'Hello there' },
  'text, no trailing newline vs CRLF ending': { text: 'line one\r\nline two\r\n' },
  'html only': { html: '<p>Hi</p>' },
  'text + html (multipart/alternative)': { text: 'plain', html: '<b>rich</b>' },
  'unicode everywhere': { subject: 'Ünïcödé 📦 order', text: 'Grüße, 你好 — ✓', html: '<p>Grüße 你好</p>', from: { name: 'Café Ü', address: 'news@aviary.test' } },
  'long lines and dots at the start of lines': { text: `${long}\n.hidden\n..two\n${'x'.repeat(200)}`, html: `<p>${long}</p>` },
  'bare CR and LF in text': { text: 'a\rb\nc\r\nd' },
  'trailing whitespace at line ends': { text: 'end with space \nand tab\t\nlast ' },
  'cc, bcc, reply-to, custom headers': { cc: ['c@example.com'], bcc: ['hidden@example.com'], replyTo: 'support@aviary.test', headers: { 'X-Aviary-Message-Id': 'm1', 'X-Campaign': 'Ünï winter' }, text: 'x' },
  'attachment (base64) and inline image (related)': {
    html: '<img src="cid:logo@aviary">', text: 'see attached',
    attachments: [
      { filename: 'invoice.pdf', content: Buffer.from('%PDF-1.4 fake pdf bytes\n'.repeat(50)), contentType: 'application/pdf', contentDisposition: 'attachment' },
      { filename: 'logo.png', content: png, contentType: 'image/png', cid: 'logo@aviary', contentDisposition: 'inline' },
    ],
  },
  'attachment with a non-ascii file name and text content': { text: 'x', attachments: [{ filename: 'résumé €.txt', content: Buffer.from('plain text attachment\n'), contentType: 'text/plain' }] },
  'empty subject and body': { subject: '', text: '' },
};

for (const [name, mail] of Object.entries(cases)) {
  test(`renderMail matches nodemailer's build(): ${name}`, async () => {
    const options = { ...base, ...mail, baseBoundary: 'fixed' };
    const expected = await new MailComposer(options as any).compile().build();
    const actual = await renderMail(options);
    assert.equal(actual.toString('latin1'), expected.toString('latin1'));
  });
}

test('content that is not in memory (a stream) goes through build() and still comes out whole', async () => {
  const { Readable } = await import('node:stream');
  const options = { ...base, baseBoundary: 'fixed', text: 'x', attachments: [{ filename: 'a.txt', content: Readable.from([Buffer.from('streamed '), Buffer.from('content')]) }] };
  const actual = (await renderMail(options)).toString();
  assert.match(actual, /Content-Disposition: attachment; filename=a\.txt/);
  assert.ok(actual.includes(Buffer.from('streamed content').toString('base64')));
});
