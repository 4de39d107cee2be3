import * as base64 from 'nodemailer/lib/base64';
import MailComposer from 'nodemailer/lib/mail-composer';
import * as qp from 'nodemailer/lib/qp';

// The bytes of a mail, with nodemailer doing all of the MIME: the tree, the header fields (their
// encoding, folding and the guards against header injection), the transfer encodings and the
// boundaries. Only the walk over the tree is done here, synchronously, where nodemailer's own
// build() streams it: a pipeline with an AbortController per node, a setImmediate per part and an
// encoder stream per body cost about 200 µs a mail, and the parts leave as a socket write each
// (bench/email.ts: composing and writing took a third of the worker's time at 700 mails/s); joined
// in one go the same bytes cost a few µs past the tree and its headers (323 -> 122 µs a mail in
// all). The walk is the one in MimeNode.stream() and its output must match build() byte for byte
// (test/smtp-render-mime.test.ts checks that for every kind of mail Aviary sends); whatever this walk
// does not know (content from a stream or a path, transforms such as DKIM, a newline conversion)
// goes through build().

interface Node {
  childNodes: Node[];
  content?: unknown;
  multipart: string | false;
  boundary: string | false;
  contentType?: string;
  getHeader(key: string): unknown;
  buildHeaders(): string;
  build(): Promise<Buffer>;
  _transforms: unknown[];
  _processFuncs: unknown[];
  newline?: unknown;
}

/** The mail as nodemailer would send it. `options` are nodemailer's mail options. */
export async function renderMail(options: object): Promise<Buffer> {
  const root = new MailComposer(options as any).compile() as unknown as Node;
  const chunks: Array<string | Buffer> = [];
  if (root._transforms.length || root._processFuncs.length || root.newline || !walk(root, chunks)) return root.build();
  const bytes = Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  // MimeNode's LastNewline: the message ends with a line break.
  const last = bytes[bytes.length - 1];
  if (last === 0x0a) return bytes;
  return Buffer.concat([bytes, Buffer.from(last === 0x0d ? '\n' : '\r\n')]);
}

/** False when some part is not in memory or needs an encoding this walk does not do. */
function walk(node: Node, out: Array<string | Buffer>): boolean {
  out.push(node.buildHeaders() + '\r\n\r\n');
  // buildHeaders has just set it from getTransferEncoding(), which scans the content: not twice.
  const encoding = String(node.getHeader('Content-Transfer-Encoding') ?? '').toLowerCase();
  const content = node.content;
  if (content) {
    if (typeof content !== 'string' && !Buffer.isBuffer(content)) return false;
    if (encoding === 'base64') out.push(base64.wrap(base64.encode(content), 76));
    else if (encoding === 'quoted-printable') {
      // Outside text/* nodemailer encodes a lone CR or LF as data, which qp.encode does not do.
      if (!/^text\//i.test(node.contentType ?? '')) return false;
      out.push(qp.wrap(qp.encode(content), 76));
    } else out.push(content);
  }
  if (node.multipart) {
    for (const [i, child] of node.childNodes.entries()) {
      out.push((i > 0 ? '\r\n' : '') + '--' + node.boundary + '\r\n');
      if (!walk(child, out)) return false;
    }
    out.push('\r\n--' + node.boundary + '--\r\n');
  }
  return true;
}
