import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { openApiDocument } from '../src/server/openapi/index.ts';
import { birdFormats } from '../src/message-body/create-message-schema.ts';
import { validateCreateMessage } from '../src/message-body/validate-message.ts';
import { startTestAviary, type TestAviary } from './support/harness.ts';

// GET /openapi.json and GET /docs: the document is a valid OpenAPI 3.1 document, it describes every
// route the server has and nothing it lacks, its schemas agree with what the server accepts and
// answers (checked by sending the document's own examples), and the page shows all of it.

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// ---------------------------------------------------------------------------------------------------
// The structural rules of OpenAPI 3.1 (the official meta-schema is not available offline). Schema
// Objects are left open here and checked separately by compiling them as JSON Schema 2020-12.

const extensions = { '^x-': true };
const map = (value: object) => ({ type: 'object', additionalProperties: value });
const orRef = (def: string) => ({ if: { type: 'object', required: ['$ref'] }, then: { $ref: '#/$defs/reference' }, else: { $ref: `#/$defs/${def}` } });
const closed = (properties: Record<string, unknown>, required: string[] = [], extra: object = {}) => ({
  type: 'object',
  required,
  properties,
  patternProperties: extensions,
  additionalProperties: false,
  ...extra,
});
const componentMap = (value: object) => ({ type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9._-]+$' }, additionalProperties: value });

const OAS_31_STRUCTURE = {
  $defs: {
    reference: closed({ $ref: { type: 'string', format: 'uri-reference' }, summary: { type: 'string' }, description: { type: 'string' } }, ['$ref']),
    schema: { type: ['object', 'boolean'] },
    info: closed(
      {
        title: { type: 'string', minLength: 1 },
        summary: { type: 'string' },
        description: { type: 'string' },
        termsOfService: { type: 'string' },
        contact: { type: 'object' },
        license: closed({ name: { type: 'string' }, identifier: { type: 'string' }, url: { type: 'string' } }, ['name'], {
          not: { required: ['identifier', 'url'] },
        }),
        version: { type: 'string', minLength: 1 },
      },
      ['title', 'version'],
    ),
    server: closed({ url: { type: 'string' }, description: { type: 'string' }, variables: { type: 'object' } }, ['url']),
    tag: closed({ name: { type: 'string' }, description: { type: 'string' }, externalDocs: { type: 'object' } }, ['name']),
    securityRequirement: map({ type: 'array', items: { type: 'string' } }),
    paths: { type: 'object', patternProperties: { '^/': { $ref: '#/$defs/pathItem' }, ...extensions }, additionalProperties: false },
    pathItem: closed({
      $ref: { type: 'string' },
      summary: { type: 'string' },
      description: { type: 'string' },
      servers: { type: 'array', items: { $ref: '#/$defs/server' } },
      parameters: { type: 'array', items: orRef('parameter') },
      ...Object.fromEntries(METHODS.map((m) => [m, { $ref: '#/$defs/operation' }])),
    }),
    operation: closed(
      {
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        externalDocs: { type: 'object' },
        operationId: { type: 'string' },
        parameters: { type: 'array', items: orRef('parameter') },
        requestBody: orRef('requestBody'),
        // Optional in 3.1; Aviary requires it of itself.
        responses: { $ref: '#/$defs/responses' },
        callbacks: { type: 'object' },
        deprecated: { type: 'boolean' },
        security: { type: 'array', items: { $ref: '#/$defs/securityRequirement' } },
        servers: { type: 'array', items: { $ref: '#/$defs/server' } },
      },
      ['responses', 'operationId'],
    ),
    parameter: closed(
      {
        name: { type: 'string' },
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        description: { type: 'string' },
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        allowEmptyValue: { type: 'boolean' },
        style: { enum: ['matrix', 'label', 'form', 'simple', 'spaceDelimited', 'pipeDelimited', 'deepObject'] },
        explode: { type: 'boolean' },
        allowReserved: { type: 'boolean' },
        schema: { $ref: '#/$defs/schema' },
        content: map({ $ref: '#/$defs/mediaType' }),
        example: true,
        examples: { type: 'object' },
      },
      ['name', 'in'],
      {
        oneOf: [{ required: ['schema'] }, { required: ['content'] }],
        if: { properties: { in: { const: 'path' } } },
        then: { required: ['required'], properties: { required: { const: true } } },
      },
    ),
    requestBody: closed({ description: { type: 'string' }, content: map({ $ref: '#/$defs/mediaType' }), required: { type: 'boolean' } }, ['content']),
    mediaType: closed({ schema: { $ref: '#/$defs/schema' }, example: true, examples: { type: 'object' }, encoding: { type: 'object' } }),
    responses: {
      type: 'object',
      minProperties: 1,
      patternProperties: { '^([1-5](\\d\\d|XX)|default)$': orRef('response'), ...extensions },
      additionalProperties: false,
    },
    response: closed(
      { description: { type: 'string' }, headers: map(orRef('header')), content: map({ $ref: '#/$defs/mediaType' }), links: { type: 'object' } },
      ['description'],
    ),
    header: closed({
      description: { type: 'string' },
      required: { type: 'boolean' },
      deprecated: { type: 'boolean' },
      schema: { $ref: '#/$defs/schema' },
      content: map({ $ref: '#/$defs/mediaType' }),
      example: true,
    }),
    securityScheme: closed(
      {
        type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] },
        description: { type: 'string' },
        name: { type: 'string' },
        in: { enum: ['query', 'header', 'cookie'] },
        scheme: { type: 'string' },
        bearerFormat: { type: 'string' },
        flows: { type: 'object' },
        openIdConnectUrl: { type: 'string' },
      },
      ['type'],
      {
        allOf: [
          { if: { properties: { type: { const: 'http' } } }, then: { required: ['scheme'] } },
          { if: { properties: { type: { const: 'apiKey' } } }, then: { required: ['name', 'in'] } },
        ],
      },
    ),
    components: closed({
      schemas: componentMap({ $ref: '#/$defs/schema' }),
      responses: componentMap(orRef('response')),
      parameters: componentMap(orRef('parameter')),
      examples: componentMap({ type: 'object' }),
      requestBodies: componentMap(orRef('requestBody')),
      headers: componentMap(orRef('header')),
      securitySchemes: componentMap(orRef('securityScheme')),
      links: componentMap({ type: 'object' }),
      callbacks: componentMap({ type: 'object' }),
      pathItems: componentMap({ $ref: '#/$defs/pathItem' }),
    }),
  },
  ...closed(
    {
      openapi: { type: 'string', pattern: '^3\\.1\\.\\d+(-.+)?$' },
      info: { $ref: '#/$defs/info' },
      jsonSchemaDialect: { type: 'string', format: 'uri' },
      servers: { type: 'array', items: { $ref: '#/$defs/server' } },
      paths: { $ref: '#/$defs/paths' },
      webhooks: { type: 'object' },
      components: { $ref: '#/$defs/components' },
      security: { type: 'array', items: { $ref: '#/$defs/securityRequirement' } },
      tags: { type: 'array', items: { $ref: '#/$defs/tag' } },
      externalDocs: { type: 'object' },
    },
    ['openapi', 'info', 'paths'],
  ),
};

// ---------------------------------------------------------------------------------------------------

function pointer(doc: Json, ref: string): Json {
  assert.ok(ref.startsWith('#/'), `only local references are expected: ${ref}`);
  let node = doc;
  for (const seg of ref.slice(2).split('/')) {
    const key = decodeURIComponent(seg).replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(node && typeof node === 'object' && key in node, `$ref ${ref} does not resolve`);
    node = node[key];
  }
  return node;
}

const deref = (doc: Json, value: Json): Json => (value && typeof value.$ref === 'string' ? deref(doc, pointer(doc, value.$ref)) : value);

function walk(node: Json, visit: (node: Json, path: string) => void, path = '#'): void {
  if (node === null || typeof node !== 'object') return;
  visit(node, path);
  for (const [k, v] of Object.entries(node)) walk(v, visit, `${path}/${k}`);
}

interface DocOperation {
  path: string;
  method: string;
  op: Json;
  parameters: Json[];
}

function operationsOf(doc: Json): DocOperation[] {
  const out: DocOperation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const parameters = [...(item.parameters ?? []), ...(item[method].parameters ?? [])].map((p) => deref(doc, p));
      out.push({ path, method, op: item[method], parameters });
    }
  }
  return out;
}

/** (method, path) pairs from Fastify's `printRoutes({commonPrefix: false})` tree. */
function parsePrintedRoutes(text: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^((?:│   |    )*)(?:├──|└──) (\S+)(?: \(([^)]*)\))?\s*$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack[depth] = (depth > 0 ? stack[depth - 1] : '') + m[2];
    stack.length = depth + 1;
    for (const method of m[3] ? m[3].split(',').map((s) => s.trim()) : []) out.push({ method, path: stack[depth] });
  }
  return out;
}

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document and API reference', () => {
  let t: TestAviary;
  let doc: Json;
  let ajv: Ajv2020;
  const DOC_ID = 'urn:aviary:openapi';

  before(async () => {
    t = await startTestAviary('pglite');
    const res = await fetch(`${t.url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = await res.json();
    // The document's schemas as a JSON Schema 2020-12 validator, with the formats Aviary's validators use.
    ajv = new Ajv2020({ allErrors: true, strict: false, formats: birdFormats });
    ajv.addSchema({ $id: DOC_ID, components: doc.components });
  });
  after(() => t.close());

  function schemaValidator(schema: Json): ValidateFunction {
    if (typeof schema?.$ref === 'string') return ajv.getSchema(DOC_ID + schema.$ref)!;
    return ajv.compile(schema);
  }

  test('GET /openapi.json is public and a structurally valid OpenAPI 3.1 document', () => {
    const validate = new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(OAS_31_STRUCTURE);
    assert.ok(validate(doc as unknown), JSON.stringify(validate.errors, null, 2));
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.components.securitySchemes.accessKey.type, 'http');
    assert.equal(doc.components.securitySchemes.accessKey.scheme, 'AccessKey');
    assert.deepEqual(doc.security, [{ accessKey: [] }]);
  });

  test('references resolve; path templates, operationIds, tags and security are consistent', () => {
    walk(doc, (node, at) => {
      if (typeof node.$ref === 'string') pointer(doc, node.$ref);
      assert.ok(!('nullable' in node && typeof node.nullable === 'boolean'), `OpenAPI 3.0 "nullable" at ${at}`);
    });
    const ids = new Set<string>();
    const tags = new Set(doc.tags.map((x: Json) => x.name));
    for (const { path, method, op, parameters } of operationsOf(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is used twice`);
      ids.add(op.operationId);
      assert.ok(op.summary, `${where} has a summary`);
      for (const tag of op.tags) assert.ok(tags.has(tag), `${where}: tag ${tag} is not declared`);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = parameters.filter((p) => p.in === 'path').map((p) => p.name).sort();
      assert.deepEqual(declared, templated, `${where}: path parameters match the template`);
      const keys = parameters.map((p) => `${p.in}:${p.name}`);
      assert.equal(new Set(keys).size, keys.length, `${where}: no parameter is declared twice`);
      for (const requirement of op.security ?? doc.security) {
        for (const name of Object.keys(requirement)) assert.ok(doc.components.securitySchemes[name], `${where}: security scheme ${name}`);
      }
      assert.ok(Object.keys(op.responses).some((s) => /^2/.test(s)), `${where} documents a success response`);
      if (path.startsWith('/workspaces/') || path.startsWith('/organizations/') || path.startsWith('/inbox/api/workspaces/')) {
        assert.notDeepEqual(op.security, [], `${where} needs an access key`);
        for (const s of ['401', '403', '404', '429']) assert.ok(op.responses[s], `${where} documents ${s}`);
      } else if (path === '/inbox/api/session' || path.startsWith('/sandbox/')) {
        assert.notDeepEqual(op.security, [], `${where} needs an access key`);
        assert.ok(op.responses['401'], `${where} documents 401`);
      } else assert.deepEqual(op.security, [], `${where} is public`);
      const sample = op['x-codeSamples']?.[0]?.source;
      assert.match(sample, /^curl /, `${where} has a curl example`);
    }
  });

  test('every component schema is valid JSON Schema 2020-12, and the error catalogue fits its schemas', () => {
    for (const name of Object.keys(doc.components.schemas)) {
      assert.ok(ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`), `schema ${name} compiles`);
    }
    const statuses = new Set<number>();
    for (const entry of doc['x-errorCatalogue']) {
      statuses.add(entry.status);
      const schema = entry.status === 422 ? 'ValidationError' : 'Error';
      const validate = ajv.getSchema(`${DOC_ID}#/components/schemas/${schema}`)!;
      assert.ok(validate(entry.example), `${entry.code}: ${JSON.stringify(validate.errors)}`);
      assert.equal(entry.example.code, entry.code);
    }
    for (const code of ['Unauthorized', 'Forbidden', 'NotFound', 'ChannelInactive', 'InvalidPayload', 'InvalidParameters', 'TooManyRequests']) {
      assert.ok(doc['x-errorCatalogue'].some((e: Json) => e.code === code), `catalogue lists ${code}`);
    }
    assert.equal(Object.keys(doc.components.responses).length, statuses.size, 'one shared response per error status');
  });

  test('every route Fastify serves is documented, and every documented operation is served', () => {
    const served = parsePrintedRoutes(t.aviary.server.printRoutes({ commonPrefix: false }));
    // Guards the parser: if Fastify's printout changed shape, this test must fail rather than pass on nothing.
    assert.ok(served.some((r) => r.method === 'POST' && r.path === '/workspaces/:workspaceId/channels/:channelId/messages'), 'parsed the route tree');
    assert.ok(served.length >= 15, `parsed ${served.length} routes`);
    const undocumented = served
      .filter((r) => r.method !== 'HEAD') // Fastify's automatic twin of every GET route
      .filter((r) => !doc.paths[toOpenApiPath(r.path)]?.[r.method.toLowerCase()])
      .map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(undocumented, [], 'routes missing from the document');
    for (const { path, method } of operationsOf(doc)) {
      const url = path.replace(/\{([^}]+)\}/g, ':$1');
      assert.ok(t.aviary.server.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method.toUpperCase()} ${path} is served`);
    }
  });

  test('the send body schema accepts and rejects exactly what the server\'s validator does', () => {
    const documented = schemaValidator(doc.paths['/workspaces/{workspaceId}/channels/{channelId}/messages'].post.requestBody.content['application/json'].schema);
    const seeds: Json[] = [
      doc.paths['/workspaces/{workspaceId}/channels/{channelId}/messages'].post.requestBody.content['application/json'].example,
      {
        sender: { connector: { identifierValue: 'Aviary', annotations: { name: 'Support' } } },
        receiver: { contacts: [{ identifierKey: 'emailaddress', identifierValue: 'a@example.com', type: 'to', platformAddressSelector: null }] },
        body: { type: 'html', html: { html: '<p>Hi</p>', text: 'Hi', attachments: null, metadata: { subject: 'Hello' } } },
        meta: { extraInformation: { useCase: 'marketing' }, flow: { id: null, name: null, stepId: null, runId: null } },
        shortLinks: null,
        validity: 60,
        scheduledFor: '2020-01-01T00:00:00Z',
      },
      {
        receiver: { contacts: [{ id: '0190a000-0000-7000-8000-000000000000' }] },
        template: {
          projectId: 'p',
          version: 'v',
          locale: 'en-US',
          attachments: null,
          shortLinks: null,
          variables: null,
          utmParameters: [{ key: 'utm_source', value: 'x' }, { key: 'utm_medium', reference: 'platform_name' }],
          parameters: [{ type: 'string', key: 'name', value: 'Ann' }],
          settings: { disallowMmLite: null },
        },
      },
      {
        receiver: { contacts: [{ identifierValue: '+31612345678' }] },
        body: {
          type: 'text',
          text: { text: 'Pick one', actions: [{ type: 'link', link: { text: 'Open', url: 'https://example.com/{{id}}' } }, { type: 'reply', reply: { text: 'Yes' } }] },
        },
        tags: ['a tag', 'b-c_d'],
      },
      { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'image', image: { images: [{ mediaUrl: 'https://example.com/a.png' }] } } },
      { receiver: { contacts: [{ identifierValue: '+31612345678' }] }, body: { type: 'location', location: { coordinates: { latitude: 52.1, longitude: 4.3 } } } },
    ];
    // Each seed, and each seed with one value replaced by another kind of value or removed.
    const replacements: Json[] = [null, 42, 1.5, -1, 'x', '', true, {}, [], ['x'], [{}], '2020-01-01T00:00:00Z', 'not a uri {'];
    const cases: Json[] = [];
    for (const seed of seeds) {
      cases.push(seed);
      const paths: (string | number)[][] = [];
      const collect = (node: Json, path: (string | number)[]) => {
        if (path.length) paths.push(path);
        if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) collect(v, [...path, Array.isArray(node) ? Number(k) : k]);
      };
      collect(seed, []);
      for (const path of paths) {
        for (const value of [...replacements, undefined]) {
          const copy = structuredClone(seed);
          let parent = copy;
          for (const key of path.slice(0, -1)) parent = parent[key];
          if (value === undefined) {
            if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
            else delete parent[path.at(-1)!];
          } else parent[path.at(-1)!] = value;
          cases.push(copy);
        }
      }
    }
    cases.push(null, [], 'x', {}, { receiver: {} }, { receiver: {}, body: null }, { receiver: {}, template: null, extra: 1 });
    let accepted = 0;
    for (const body of cases) {
      const server = validateCreateMessage(body).ok;
      assert.equal(documented(body), server, `document and server disagree on ${JSON.stringify(body)}`);
      if (server) accepted++;
    }
    assert.ok(accepted >= seeds.length && accepted < cases.length / 2, `${accepted} of ${cases.length} accepted: both kinds were tried`);
  });

  test('the document\'s examples, sent to the server, get the documented statuses and bodies', async () => {
    const ops = new Map(operationsOf(doc).map((o) => [o.op.operationId as string, o]));
    async function call(operationId: string, params: Record<string, string>, init: { body?: unknown; query?: string; headers?: Record<string, string> } = {}) {
      const o = ops.get(operationId);
      assert.ok(o, `operation ${operationId}`);
      const path = o.path.replace(/\{([^}]+)\}/g, (_, name: string) => params[name] ?? assert.fail(`no ${name} for ${operationId}`));
      const res = await t.request(o.method.toUpperCase(), `${path}${init.query ? `?${init.query}` : ''}`, init.body, init.headers);
      const documented = o.op.responses[String(res.status)];
      assert.ok(documented, `${operationId} answered ${res.status}, which is not documented: ${JSON.stringify(res.body)}`);
      const media = deref(doc, documented).content?.['application/json'];
      if (!media) assert.equal(res.body, undefined, `${operationId} ${res.status} has no body`);
      else {
        const validate = schemaValidator(media.schema);
        assert.ok(validate(res.body), `${operationId} ${res.status}: ${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(res.body, null, 2)}`);
      }
      return res;
    }
    const example = (operationId: string) => ops.get(operationId)!.op.requestBody.content['application/json'].example;
    const exampleQuery = (operationId: string) =>
      ops.get(operationId)!.parameters.filter((p) => p.in === 'query' && p.example !== undefined).map((p) => `${p.name}=${encodeURIComponent(p.example)}`).join('&');

    await t.reset();
    const ws = { workspaceId: t.workspaceId };
    assert.equal((await call('getHealth', {})).status, 200);
    assert.equal((await call('listChannels', ws)).status, 200);
    const created = await call('createChannel', ws, { body: example('createChannel') });
    assert.equal(created.status, 201);
    const channel = { ...ws, channelId: created.body.id };
    assert.equal((await call('getChannel', channel)).status, 200);

    const sent = await call('createChannelMessage', channel, { body: example('createChannelMessage') });
    assert.equal(sent.status, 202);
    const message = { ...channel, messageId: sent.body.id };
    assert.equal((await call('getChannelMessage', message)).status, 200);
    assert.equal((await call('getMessage', message)).status, 200);
    for (const id of ['listChannelMessages', 'listMessages']) {
      const page = await call(id, channel, { query: exampleQuery(id) });
      assert.equal(page.status, 200);
      assert.deepEqual(page.body.results.map((m: Json) => m.id), [sent.body.id]);
      assert.equal((await call(id, channel, { query: 'limit=0' })).status, 400);
    }
    const contacts = await call('listContacts', ws, { query: exampleQuery('listContacts') });
    assert.equal(contacts.body.results.length, 1);
    assert.equal((await call('getContact', { ...ws, contactId: sent.body.receiver.contacts[0].id })).status, 200);

    // The Contacts API and lists, each example sent as documented.
    const person = await call('createContact', ws, { body: example('createContact') });
    assert.equal(person.status, 201);
    assert.equal((await call('createContact', ws, { body: example('createContact') })).status, 409);
    assert.equal((await call('createContact', ws, { body: {} })).status, 422);
    const who = { ...ws, contactId: person.body.id };
    assert.equal((await call('getContact', who, { query: exampleQuery('getContact') })).body.attributes.company, null);
    assert.equal((await call('updateContact', who, { body: example('updateContact') })).status, 200);
    assert.equal((await call('searchContacts', ws, { body: example('searchContacts') })).body.results.length, 1);
    const byIdentifier = { ...ws, identifierKey: 'emailaddress', identifierValue: 'ann@example.com' };
    assert.equal((await call('getContactByIdentifier', byIdentifier)).status, 200);
    assert.equal((await call('getContactByIdentifier', { ...byIdentifier, identifierValue: 'nobody@example.com' })).status, 404);
    assert.equal((await call('upsertContactByIdentifier', { ...byIdentifier, identifierKey: 'phonenumber', identifierValue: '+31699999999' }, { body: { attributes: { a: 1 } } })).status, 201);
    assert.equal((await call('upsertContactByIdentifier', byIdentifier, { body: {} })).status, 200);
    assert.equal((await call('addContactIdentifier', who, { body: example('addContactIdentifier') })).status, 201);
    assert.equal((await call('listContactIdentifiers', who)).body.results.length, 4);
    assert.equal((await call('removeContactIdentifier', who, { body: example('removeContactIdentifier') })).status, 204);
    assert.equal((await call('removeContactIdentifier', who, { body: example('removeContactIdentifier') })).status, 404);
    const list = await call('createList', ws, { body: example('createList') });
    assert.equal(list.status, 201);
    const inList = { ...ws, listId: list.body.id };
    assert.equal((await call('listLists', ws)).body.results.length, 1);
    assert.equal((await call('getList', inList)).status, 200);
    assert.equal((await call('updateList', inList, { body: example('updateList') })).status, 200);
    assert.deepEqual((await call('addListContacts', inList, { body: example('addListContacts') })).body, { itemsProcessed: 1 });
    assert.deepEqual((await call('listListContacts', inList)).body.results.map((c: Json) => c.id), [person.body.id]);
    assert.equal((await call('listContactLists', who)).body.results.length, 1);
    assert.deepEqual((await call('removeListContacts', inList, { body: example('removeListContacts') })).body, { itemsProcessed: 1 });
    assert.equal((await call('deleteList', inList)).status, 204);
    assert.equal((await call('getList', inList)).status, 404);
    assert.equal((await call('deleteContact', who)).status, 204);
    assert.equal((await call('deleteContact', who)).status, 404);

    const batch = await call('createChannelMessageBatch', channel, { body: example('createChannelMessageBatch') });
    assert.equal(batch.status, 202);
    assert.deepEqual(batch.body.results.map((m: Json) => m.status), ['accepted', 'accepted']);
    const later = await call('createChannelMessage', channel, { body: { ...example('createChannelMessage'), scheduledFor: new Date(Date.now() + 3600_000).toISOString() } });
    assert.equal((await call('deleteChannelMessage', { ...channel, messageId: later.body.id })).status, 204);
    assert.equal((await call('deleteChannelMessage', { ...channel, messageId: later.body.id })).status, 409);

    // On WhatsApp the contact writes in first: free-form messages need an open service window.
    const wa = { ...ws, channelId: t.channel('whatsapp') };
    const inbound = await call('simulateInboundMessage', wa, { body: example('simulateInboundMessage') });
    assert.equal(inbound.body.direction, 'incoming');
    const waSent = await call('createChannelMessage', wa, { body: example('createChannelMessage') });
    await t.waitForStatus(waSent.body.id, ['sent', 'delivered']);
    assert.equal((await call('simulateInteraction', { ...wa, messageId: waSent.body.id }, { body: example('simulateInteraction') })).status, 201);
    assert.equal((await call('listMessageInteractions', { ...wa, messageId: waSent.body.id })).body.results.length, 1);
    const info = await call('getChannelContactInformation', { ...wa, contactId: waSent.body.receiver.contacts[0].id });
    assert.equal(typeof info.body.serviceWindowExpireAt, 'string');

    const suppression = await call('createSuppression', ws, { body: example('createSuppression') });
    assert.equal(suppression.status, 201);
    assert.equal((await call('listSuppressions', ws, { query: exampleQuery('listSuppressions') })).body.results.length, 1);
    const entry = { ...ws, identifierKey: suppression.body.identifierKey, identifierValue: encodeURIComponent(suppression.body.identifierValue) };
    assert.equal((await call('deleteSuppression', entry)).status, 204);
    assert.equal((await call('deleteSuppression', entry)).status, 404);

    assert.equal((await call('createChannelMessage', channel, { body: { receiver: {} } })).status, 422);
    assert.equal((await call('createChannelMessage', channel, { body: '<hello/>', headers: { 'content-type': 'application/xml' } })).status, 415);
    assert.equal((await call('createChannelMessage', channel, { body: '{"receiver":', headers: { 'content-type': 'application/json' } })).status, 400);
    assert.equal((await call('updateChannel', channel, { body: example('updateChannel') })).status, 200);
    assert.equal((await call('createChannelMessage', channel, { body: example('createChannelMessage') })).status, 409);
    assert.equal((await call('deleteChannel', channel)).status, 204);
    assert.equal((await call('getChannel', channel)).status, 404);
    assert.equal((await call('listChannels', ws, { headers: { authorization: '' } })).status, 401);

    const org = { organizationId: t.organizationId };
    const createdWs = await call('createWorkspace', org, { body: example('createWorkspace') });
    assert.equal(createdWs.status, 201);
    const wsOf = { ...org, workspaceId: createdWs.body.id };
    assert.equal((await call('getWorkspace', wsOf)).status, 200);
    assert.equal((await call('updateWorkspace', wsOf, { body: example('updateWorkspace') })).status, 200);
    assert.equal((await call('updateWorkspace', wsOf, { body: { colour: 'red' } })).status, 422);
    assert.equal((await call('listWorkspaces', org, { query: exampleQuery('listWorkspaces') })).body.results.length, 2);
    assert.equal((await call('listWorkspaces', org, { query: 'limit=0' })).status, 400);
    assert.equal((await call('getWorkspace', { ...org, workspaceId: '00000000-0000-4000-8000-000000000000' })).status, 404);
    assert.equal((await call('listWorkspaces', { organizationId: '00000000-0000-4000-8000-000000000000' })).status, 403);
  });

  test('GET /docs is a public, self-contained HTML page showing every operation and schema', async () => {
    const res = await fetch(`${t.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /^<!doctype html>/i);
    for (const { path, method, op } of operationsOf(doc)) {
      assert.ok(html.includes(`<code class="path">${path}</code>`), `page shows ${path}`);
      assert.ok(html.includes(`id="op-${op.operationId}"`), `page has ${method.toUpperCase()} ${path}`);
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(html.includes(`id="schema-${name}"`), `page shows schema ${name}`);
    for (const e of doc['x-errorCatalogue']) assert.ok(html.includes(`<code>${e.code}</code>`), `page lists error ${e.code}`);
    assert.ok(html.includes('curl -X POST &quot;$AVIARY_URL/workspaces/$WORKSPACE_ID/channels/$CHANNEL_ID/messages&quot;'), 'curl example');
    assert.ok(html.includes(`export AVIARY_URL=&#39;${t.url}&#39;`), 'examples are set up for this server');
    // Nothing loaded from elsewhere, and every in-page link lands somewhere.
    assert.doesNotMatch(html, /<script|<link|<iframe|<img|@import|url\(/i);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    const dangling = [...new Set([...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]))].filter((id) => !ids.has(id));
    assert.deepEqual(dangling, [], 'links to missing anchors');
  });

  test('both are built once and served from the same cache', async () => {
    assert.equal(openApiDocument(), openApiDocument());
    const [a, b] = await Promise.all([fetch(`${t.url}/openapi.json`).then((r) => r.text()), fetch(`${t.url}/openapi.json`).then((r) => r.text())]);
    assert.equal(a, b);
    assert.deepEqual(JSON.parse(a), doc);
    const [p1, p2] = await Promise.all([fetch(`${t.url}/docs`).then((r) => r.text()), fetch(`${t.url}/docs`).then((r) => r.text())]);
    assert.equal(p1, p2);
  });
});
