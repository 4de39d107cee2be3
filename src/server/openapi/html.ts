import { shellVariable } from './common.ts';
import { HTTP_METHODS, type HttpMethod, type JsonSchema, type OpenApiDocument, type Operation, type Parameter, type PathItem, type Reference, type Response } from './types.ts';

// The human-readable reference at /docs, rendered from the OpenAPI document on the server: one
// self-contained HTML page (inline CSS, no scripts, nothing fetched from anywhere), so it works on a
// machine without internet access. Everything from the document is HTML-escaped.

/** Replaced per request by the URL the client reached the server at (docs.ts). */
export const BASE_URL_PLACEHOLDER = '%%AVIARY_BASE_URL%%';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
const esc = escapeHtml;

// ---------------------------------------------------------------------------- a little Markdown

function inline(text: string): string {
  return esc(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+|#[^)\s]+)\)/g, '<a href="$2">$1</a>');
}

/** The CommonMark the document's descriptions use: paragraphs, `- ` lists, `code`, **bold**, links. */
function md(text: unknown): string {
  if (typeof text !== 'string' || !text) return '';
  return text
    .split(/\n{2,}/)
    .map((block) => {
      const lines = block.split('\n');
      if (lines.every((l) => /^\s*- /.test(l))) return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>`;
      return `<p>${inline(block)}</p>`;
    })
    .join('');
}

const code = (value: unknown) => `<code>${esc(JSON.stringify(value))}</code>`;
const isObject = (v: unknown): v is JsonSchema => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------- schemas

const COMBINATORS = ['allOf', 'anyOf', 'oneOf', 'if', 'not'];
const MAX_DEPTH = 8;

class SchemaRenderer {
  constructor(private readonly doc: OpenApiDocument) {}

  link(ref: string): string {
    const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
    if (!m) return `<code>${esc(ref)}</code>`;
    return `<a href="#schema-${esc(m[1])}"><code>${esc(m[1])}</code></a>`;
  }

  /** A one-line description of a schema's type, with links to named schemas. */
  type(s: unknown): string {
    if (s === true || s === undefined) return 'any';
    if (s === false) return 'nothing';
    if (!isObject(s)) return code(s);
    if (typeof s.$ref === 'string') return this.link(s.$ref);
    if ('const' in s) return code(s.const);
    if (Array.isArray(s.enum)) return s.enum.map(code).join(' | ');
    const types = s.type === undefined ? [] : [s.type].flat().map(String);
    if (types.length) {
      return types
        .map((t) => {
          if (t === 'array') return `array of ${isObject(s.items) || typeof s.items === 'boolean' ? this.type(s.items) : 'any'}`;
          if (t === 'object' && !s.properties && isObject(s.additionalProperties)) return `map of string → ${this.type(s.additionalProperties)}`;
          return typeof s.format === 'string' && t !== 'null' ? `${esc(t)} (${esc(s.format)})` : esc(t);
        })
        .join(' | ');
    }
    for (const k of ['oneOf', 'anyOf']) {
      const branches = s[k];
      if (Array.isArray(branches) && branches.every((b) => isObject(b) && (b.$ref || b.type))) return branches.map((b) => this.type(b)).join(' | ');
    }
    if (s.properties || s.additionalProperties !== undefined || COMBINATORS.some((k) => k in s)) return 'object';
    return 'any';
  }

  constraints(s: unknown): string {
    if (!isObject(s)) return '';
    const out: string[] = [];
    const range = (min: unknown, max: unknown, unit: string) => {
      if (min !== undefined && max !== undefined) out.push(`${esc(String(min))}–${esc(String(max))} ${unit}`);
      else if (min !== undefined) out.push(`at least ${esc(String(min))} ${unit}`);
      else if (max !== undefined) out.push(`at most ${esc(String(max))} ${unit}`);
    };
    range(s.minLength, s.maxLength, 'characters');
    range(s.minItems, s.maxItems, 'items');
    range(s.minProperties, s.maxProperties, 'properties');
    if (s.minimum !== undefined) out.push(`≥ ${esc(String(s.minimum))}`);
    if (s.exclusiveMinimum !== undefined) out.push(`&gt; ${esc(String(s.exclusiveMinimum))}`);
    if (s.maximum !== undefined) out.push(`≤ ${esc(String(s.maximum))}`);
    if (s.exclusiveMaximum !== undefined) out.push(`&lt; ${esc(String(s.exclusiveMaximum))}`);
    if (s.uniqueItems === true) out.push('unique items');
    if (typeof s.pattern === 'string') out.push(`pattern <code>${esc(s.pattern)}</code>`);
    if (s.default !== undefined) out.push(`default ${code(s.default)}`);
    if (Array.isArray(s.examples) && s.examples.length) out.push(`e.g. ${code(s.examples[0])}`);
    if (s.deprecated === true) out.push('deprecated');
    // Constraints on the items of an array whose items are not shown in a table of their own.
    if (isObject(s.items) && !s.items.$ref && !this.hasStructure(s.items)) {
      const inner = this.constraints(s.items).replace(/^<div class="constraints">|<\/div>$/g, '');
      if (inner) out.push(`each item: ${inner}`);
    }
    return out.length ? `<div class="constraints">${out.join(' · ')}</div>` : '';
  }

  /** A condition of `if`, in words: "`type` is "text"". */
  condition(s: unknown): string {
    if (!isObject(s)) return code(s);
    const parts: string[] = [];
    const props = isObject(s.properties) ? s.properties : {};
    for (const [name, p] of Object.entries(props)) {
      if (isObject(p) && 'const' in p) parts.push(`<code>${esc(name)}</code> is ${code(p.const)}`);
      else if (isObject(p) && Array.isArray(p.enum)) parts.push(`<code>${esc(name)}</code> is one of ${p.enum.map(code).join(', ')}`);
    }
    for (const name of Array.isArray(s.required) ? s.required : []) {
      if (!(name in props)) parts.push(`<code>${esc(String(name))}</code> is present`);
    }
    return parts.length ? parts.join(' and ') : `it matches <code>${esc(JSON.stringify(s))}</code>`;
  }

  /** A schema met inside a combinator: a link, "has `x`", or the schema itself. */
  summary(s: unknown, depth: number): string {
    if (!isObject(s)) return this.type(s);
    if (typeof s.$ref === 'string') return this.link(s.$ref);
    const keys = Object.keys(s).filter((k) => k !== 'type' && k !== 'title');
    if (keys.length === 1 && Array.isArray(s.required)) return `has ${s.required.map((r) => `<code>${esc(String(r))}</code>`).join(' and ')}`;
    if (this.hasStructure(s)) return `${this.type(s)}${this.block(s, depth + 1, false)}`;
    return `${this.type(s)}${this.constraints(s)}`;
  }

  private hasStructure(s: JsonSchema): boolean {
    return isObject(s.properties) || COMBINATORS.some((k) => k in s) || (isObject(s.additionalProperties) && this.hasStructure(s.additionalProperties));
  }

  /** The inline object a property's details should expand: the schema, or its items or values. */
  private expandable(s: unknown): JsonSchema | undefined {
    if (!isObject(s) || s.$ref) return undefined;
    if (this.hasStructure(s)) return s;
    if (isObject(s.items) && !s.items.$ref && this.hasStructure(s.items)) return s.items;
    if (isObject(s.additionalProperties) && !s.additionalProperties.$ref && this.hasStructure(s.additionalProperties)) return s.additionalProperties;
    return undefined;
  }

  /** A schema in full: description, constraints, a property table with nested tables, conditions. */
  block(s: unknown, depth = 0, withDescription = true): string {
    if (!isObject(s)) return `<p>${this.type(s)}</p>`;
    if (typeof s.$ref === 'string') return `<p>${this.link(s.$ref)}</p>`;
    const out: string[] = [];
    if (withDescription) out.push(md(s.description));
    if (depth === 0) out.push(`<p class="type">Type: ${this.type(s)}</p>`, this.constraints(s));
    if (isObject(s.properties)) {
      const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
      const rows = Object.entries(s.properties).map(([name, prop]) => {
        const nested = depth < MAX_DEPTH ? this.expandable(prop) : undefined;
        return (
          `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td>` +
          `<td>${this.type(prop)}</td>` +
          `<td>${isObject(prop) ? md(prop.description) : ''}${this.constraints(prop)}${nested ? this.block(nested, depth + 1, nested !== prop) : ''}</td></tr>`
        );
      });
      out.push(`<table class="props"><thead><tr><th>Property</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
      const missing = [...required].filter((r) => !(r in (s.properties as object)));
      if (missing.length) out.push(`<p class="note">Also required: ${missing.map((r) => `<code>${esc(r)}</code>`).join(', ')}.</p>`);
      if (s.additionalProperties === false) out.push('<p class="note">No other properties are allowed.</p>');
    }
    if (isObject(s.additionalProperties) && isObject(s.properties)) out.push(`<p class="note">Other properties: ${this.type(s.additionalProperties)}</p>`);
    if (isObject(s.items) && depth === 0 && !s.items.$ref && this.hasStructure(s.items)) out.push(`<p class="note">Each item:</p>${this.block(s.items, depth + 1)}`);
    const items: string[] = [];
    if (Array.isArray(s.allOf)) {
      for (const part of s.allOf) {
        if (isObject(part) && 'if' in part) items.push(this.conditional(part, depth));
        else items.push(`Also: ${this.summary(part, depth)}`);
      }
    }
    if ('if' in s) items.push(this.conditional(s, depth));
    if (items.length) out.push(`<ul class="rules">${items.map((i) => `<li>${i}</li>`).join('')}</ul>`);
    for (const [k, words] of [['anyOf', 'at least one of'], ['oneOf', 'exactly one of']] as const) {
      const branches = s[k];
      if (Array.isArray(branches)) {
        const label = s.type === undefined && branches.every((b) => isObject(b) && (b.$ref || b.type)) ? 'One of' : `Must match ${words}`;
        out.push(`<p class="note">${label}:</p><ul class="rules">${branches.map((b) => `<li>${this.summary(b, depth)}</li>`).join('')}</ul>`);
      }
    }
    if ('not' in s) out.push(`<p class="note">Must not match: ${this.summary(s.not, depth)}</p>`);
    return out.join('');
  }

  private conditional(s: JsonSchema, depth: number): string {
    let text = `When ${this.condition(s.if)}: ${'then' in s ? this.summary(s.then, depth) : 'no further rule'}`;
    if ('else' in s) text += `; otherwise: ${this.summary(s.else, depth)}`;
    return text;
  }

  /** Pretty JSON of a schema with its `$ref`s as links. */
  json(s: unknown): string {
    return `<details><summary>JSON Schema</summary><pre class="json">${esc(JSON.stringify(s, null, 2)).replace(
      /&quot;(#\/components\/schemas\/([^&]+))&quot;/g,
      '&quot;<a href="#schema-$2">$1</a>&quot;',
    )}</pre></details>`;
  }
}

// -------------------------------------------------------------------------------------- the page

function resolve<T>(doc: OpenApiDocument, value: T | Reference): T {
  const ref = isObject(value) && typeof value.$ref === 'string' ? value.$ref : undefined;
  if (ref === undefined) return value as T;
  let node: unknown = doc;
  for (const seg of ref.replace(/^#\//, '').split('/')) node = (node as Record<string, unknown>)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (node === undefined) throw new Error(`unresolved reference ${ref}`);
  return node as T;
}

const refName = (value: unknown) => (isObject(value) && typeof value.$ref === 'string' ? value.$ref.split('/').pop()! : undefined);

interface Op {
  path: string;
  method: HttpMethod;
  item: PathItem;
  op: Operation;
}

function operations(doc: OpenApiDocument): Op[] {
  const out: Op[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) if (item[method]) out.push({ path, method, item, op: item[method]! });
  }
  return out;
}

function renderOperation(doc: OpenApiDocument, r: SchemaRenderer, { path, method, item, op }: Op): string {
  const out: string[] = [];
  const secured = (op.security ?? doc.security).length > 0;
  out.push(
    `<section class="op" id="op-${esc(op.operationId)}">`,
    `<h3><span class="method m-${method}">${method.toUpperCase()}</span> <code class="path">${esc(path)}</code></h3>`,
    `<p class="summary">${esc(op.summary)} <a class="anchor" href="#op-${esc(op.operationId)}" title="Link to this operation">#</a></p>`,
    md(op.description),
    secured
      ? '<p class="auth">Requires an access key: <code>Authorization: AccessKey &lt;key&gt;</code>.</p>'
      : '<p class="auth">No authentication.</p>',
  );

  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve<Parameter>(doc, p));
  if (params.length) {
    const rows = params.map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${esc(p.in)}</td>` +
        `<td>${r.type(p.schema)}</td><td>${md(p.description)}${r.constraints(p.schema)}</td></tr>`,
    );
    out.push(`<h4>Parameters</h4><table class="params"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
  }

  if (op.requestBody) {
    const body = resolve(doc, op.requestBody);
    out.push('<h4>Request body</h4>', md(body.description));
    for (const [type, media] of Object.entries(body.content)) {
      const name = refName(media.schema);
      out.push(`<p><code>${esc(type)}</code>${body.required ? ', required' : ''}${name ? `: ${r.link(media.schema!.$ref as string)}` : ''}</p>`);
      out.push(`<div class="schema">${r.block(name ? resolve<JsonSchema>(doc, media.schema as unknown as Reference) : media.schema)}</div>`);
      if (media.example !== undefined) out.push(`<p class="note">Example:</p><pre class="json">${esc(JSON.stringify(media.example, null, 2))}</pre>`);
    }
  }

  const rows = Object.entries(op.responses).map(([status, value]) => {
    const shared = refName(value);
    const res = resolve<Response>(doc, value);
    const bodies = Object.entries(res.content ?? {}).map(([type, media]) => `${r.type(media.schema)} <span class="muted">(${esc(type)})</span>`);
    const headers = Object.keys(res.headers ?? {}).map((h) => `header <code>${esc(h)}</code>`);
    const description = shared
      ? `<a href="#response-${esc(shared)}">${esc(shared)}</a>: ${[...new Set(doc['x-errorCatalogue'].filter((e) => String(e.status) === status).map((e) => `<code>${esc(e.code)}</code>`))].join(', ')}`
      : md(res.description);
    return `<tr><td class="status s${esc(status[0])}">${esc(status)}</td><td>${description}</td><td>${[...bodies, ...headers].join('<br>') || '<span class="muted">no body</span>'}</td></tr>`;
  });
  out.push(`<h4>Responses</h4><table class="responses"><thead><tr><th>Status</th><th>Description</th><th>Body</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);

  for (const sample of op['x-codeSamples'] ?? []) out.push(`<h4>Example</h4><pre class="curl">${esc(sample.source)}</pre>`);
  out.push('</section>');
  return out.join('\n');
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#fff}
a{color:#0b5fcc;text-decoration:none}a:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
code{background:#f2f4f7;border-radius:4px;padding:1px 4px}
pre{background:#f6f8fa;border:1px solid #e4e7eb;border-radius:6px;padding:10px 12px;overflow:auto;white-space:pre}
pre code{background:none;padding:0}
nav{position:fixed;top:0;left:0;bottom:0;width:280px;overflow:auto;background:#f7f8fa;border-right:1px solid #e4e7eb;padding:16px;font-size:14px}
nav ul{list-style:none;margin:0;padding:0}nav li{margin:2px 0}nav ul ul{margin:2px 0 10px 8px}
nav .method{display:inline-block;min-width:50px;font-size:10px}
main{margin-left:280px;padding:24px 40px;max-width:1180px}
h1{margin-top:0}h2{border-bottom:1px solid #e4e7eb;padding-bottom:6px;margin-top:48px}
h4{margin:18px 0 6px}
.op{border:1px solid #e4e7eb;border-radius:8px;padding:4px 20px 12px;margin:24px 0}
.op h3{margin:14px 0 2px;font-weight:600}.path{font-size:15px;background:none}
.summary{margin:0 0 8px;font-weight:500}.anchor{color:#999;margin-left:4px}
.method{display:inline-block;border-radius:4px;padding:1px 6px;color:#fff;font:700 12px/1.6 ui-monospace,monospace;text-align:center}
.m-get{background:#1a7f37}.m-post{background:#0b5fcc}.m-patch{background:#9a6700}.m-put{background:#8250df}.m-delete{background:#cf222e}.m-head,.m-options,.m-trace{background:#57606a}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:14px}
th,td{border:1px solid #e4e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td table{font-size:13px}td p{margin:0 0 4px}
.req{color:#cf222e;font-size:11px;font-weight:600}
.constraints,.muted,.note{color:#57606a;font-size:13px}.note{margin:4px 0}
.status{font-weight:700;white-space:nowrap}.s2{color:#1a7f37}.s4{color:#9a6700}.s5{color:#cf222e}
.auth{color:#57606a;font-size:13px}.rules{margin:4px 0;padding-left:20px;font-size:14px}
.schema-def{margin:20px 0;padding-top:4px;border-top:1px dashed #e4e7eb}
details{margin:6px 0}summary{cursor:pointer;color:#57606a;font-size:13px}
@media (max-width:900px){nav{position:static;width:auto;border-right:0}main{margin-left:0;padding:16px}}
`;

/** The reference page for `doc`, with BASE_URL_PLACEHOLDER where the server's URL goes. */
export function renderDocsHtml(doc: OpenApiDocument): string {
  const r = new SchemaRenderer(doc);
  const ops = operations(doc);
  const declared = new Set(doc.tags.map((t) => t.name));
  const groups = [...doc.tags, ...(ops.some((o) => !declared.has(o.op.tags[0])) ? [{ name: 'Other', description: undefined }] : [])].map((tag) => ({
    tag,
    ops: ops.filter((o) => (declared.has(o.op.tags[0]) ? o.op.tags[0] === tag.name : tag.name === 'Other')),
  }));
  const pathVariables = [...new Set(Object.keys(doc.paths).flatMap((p) => [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])))];
  const schemaNames = Object.keys(doc.components.schemas);
  const tagId = (name: string) => `tag-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

  const nav = [
    '<nav><p><strong>' + esc(doc.info.title) + ' API</strong> <span class="muted">' + esc(doc.info.version) + '</span></p><ul>',
    '<li><a href="#overview">Overview</a></li><li><a href="#authentication">Authentication</a></li><li><a href="#errors">Errors</a></li>',
    ...groups.map(
      (g) =>
        `<li><a href="#${tagId(g.tag.name)}">${esc(g.tag.name)}</a><ul>${g.ops
          .map((o) => `<li><a href="#op-${esc(o.op.operationId)}"><span class="method m-${o.method}">${o.method.toUpperCase()}</span> ${esc(o.op.summary)}</a></li>`)
          .join('')}</ul></li>`,
    ),
    '<li><a href="#schemas">Schemas</a></li><li><a href="/openapi.json">openapi.json</a></li></ul></nav>',
  ];

  const setup = [
    `export AVIARY_URL='${BASE_URL_PLACEHOLDER}'`,
    "export AVIARY_ACCESS_KEY='...'   # printed on first start; more with: aviary keys create",
    ...pathVariables.map((v) => `export ${shellVariable(v)}='...'`),
  ].join('\n');

  const main: string[] = [
    '<main>',
    `<section id="overview"><h1>${esc(doc.info.title)} API reference <span class="muted">${esc(doc.info.version)}</span></h1>`,
    doc.info.summary ? `<p><strong>${esc(doc.info.summary)}</strong></p>` : '',
    md(doc.info.description),
    `<p>OpenAPI ${esc(doc.openapi)} document: <a href="/openapi.json"><code>/openapi.json</code></a>. The examples below use these shell variables:</p>`,
    `<pre>${esc(setup)}</pre></section>`,
    '<section id="authentication"><h2>Authentication</h2>',
    ...Object.entries(doc.components.securitySchemes).map(
      ([name, s]) => `<h3>${esc(name)}</h3><p>${esc(s.type)}${s.scheme ? `, scheme <code>${esc(s.scheme)}</code>` : ''}</p>${md(s.description)}`,
    ),
    '</section>',
    '<section id="errors"><h2>Errors</h2>',
    '<p>Every error answers with <code>{"code", "message"}</code>; <code>InvalidParameters</code> and <code>InvalidPayload</code> add <code>details</code>. These are all of them:</p>',
    '<table><thead><tr><th>Status</th><th>Code</th><th>When</th><th>Example message</th></tr></thead><tbody>',
    ...doc['x-errorCatalogue'].map(
      (e) => `<tr><td class="status s${String(e.status)[0]}">${e.status}</td><td><code>${esc(e.code)}</code></td><td>${md(e.when)}</td><td>${esc(e.example.message)}</td></tr>`,
    ),
    '</tbody></table>',
    ...Object.entries(doc.components.responses).map(([name, res]) => {
      const example = res.content?.['application/json']?.example;
      return `<div id="response-${esc(name)}" class="schema-def"><h4>${esc(name)}</h4>${md(res.description)}${
        res.headers ? `<p class="note">Headers: ${Object.keys(res.headers).map((h) => `<code>${esc(h)}</code>`).join(', ')}</p>` : ''
      }${example !== undefined ? `<pre class="json">${esc(JSON.stringify(example, null, 2))}</pre>` : ''}</div>`;
    }),
    '</section>',
    ...groups.map((g) => [`<section id="${tagId(g.tag.name)}"><h2>${esc(g.tag.name)}</h2>`, md(g.tag.description), ...g.ops.map((o) => renderOperation(doc, r, o)), '</section>'].join('\n')),
    '<section id="schemas"><h2>Schemas</h2>',
    `<p>${schemaNames.map((n) => `<a href="#schema-${esc(n)}">${esc(n)}</a>`).join(' · ')}</p>`,
    ...schemaNames.map((n) => {
      const s = doc.components.schemas[n];
      return `<div class="schema-def" id="schema-${esc(n)}"><h3>${esc(n)}</h3>${r.block(s)}${r.json(s)}</div>`;
    }),
    '</section></main>',
  ];

  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${esc(doc.info.title)} API reference</title><style>${CSS}</style></head><body>`,
    ...nav,
    ...main,
    '</body></html>',
  ].join('\n');
}
