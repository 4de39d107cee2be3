import { readFileSync } from 'node:fs';
import { channelsFeature } from './channels.ts';
import {
  AUTH_ERROR_STATUSES,
  errorCatalogue,
  errorRefs,
  errorResponses,
  errorSchemas,
  paramRef,
  parameters,
  SECURITY_SCHEME_NAME,
  securitySchemes,
  shellVariable,
} from './common.ts';
import { connectorsFeature } from './connectors.ts';
import { contactsFeature } from './contacts.ts';
import { emulatorFeature } from './emulator.ts';
import { inboxFeature } from './inbox.ts';
import { interactionsFeature } from './interactions.ts';
import { listsFeature } from './lists.ts';
import { mediaFeature } from './media.ts';
import { messagesFeature } from './messages.ts';
import { organizationsFeature } from './organizations.ts';
import { sandboxFeature } from './sandbox.ts';
import { serverFeature } from './server.ts';
import { suppressionsFeature } from './suppressions.ts';
import { HTTP_METHODS, type ApiFeature, type JsonSchema, type OpenApiDocument, type Operation, type Parameter, type PathItem, type Reference } from './types.ts';
import { webhooksFeature } from './webhooks.ts';
import { templatesFeature } from './templates.ts';

// The OpenAPI 3.1 document of Aviary's HTTP API, assembled from one module per feature area. To
// document a new area, add a module exporting an ApiFeature and list it here.

export const FEATURES: ApiFeature[] = [
  serverFeature,
  channelsFeature,
  messagesFeature,
  interactionsFeature,
  contactsFeature,
  listsFeature,
  suppressionsFeature,
  sandboxFeature,
  emulatorFeature,
  templatesFeature,
  webhooksFeature,
  mediaFeature,
  organizationsFeature,
  inboxFeature,
  connectorsFeature,
];

/** Where src/server/server.ts mounts the authenticated routes. */
export const WORKSPACE_PREFIX = '/workspaces/{workspaceId}';

const DESCRIPTION = `Aviary is a self-hostable server for Bird's Channels API (api.bird.com): the same paths, request and response bodies and errors, so a client written for Bird can use it by changing the base URL.

**Authentication.** Every path under \`/workspaces/{workspaceId}\` needs an access key: \`Authorization: AccessKey <key>\`. The key must belong to the workspace's organization. Health and documentation need none.

**Requests.** Bodies are JSON (\`Content-Type: application/json\`), at most the server's body limit (1 MiB by default). Requests are rate limited per workspace as Bird limits them: 429 with \`Retry-After\` beyond that. No string anywhere in a request (body values and keys, query and path parameters) may contain U+0000 or an unpaired UTF-16 surrogate, which cannot be stored: 422 naming the JSON path, or 400 naming the parameter.

**Errors.** Every error has the body \`{"code", "message"}\`; 400 \`InvalidParameters\` and 422 \`InvalidPayload\` add \`details\`, a map from each JSON path (\`.receiver.contacts[0]\`) or query parameter to its problems. \`x-errorCatalogue\` lists every code.

**Pages.** Lists answer \`{"results": [...], "nextPageToken"}\`; pass \`nextPageToken\` back as \`pageToken\` for the next page.`;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function resolveParameter(p: Parameter | Reference): Parameter {
  if (!('$ref' in p)) return p;
  const name = p.$ref.replace('#/components/parameters/', '');
  const found = parameters[name];
  if (!found) throw new Error(`unknown parameter ${p.$ref}`);
  return found;
}

function curlExample(method: string, path: string, item: PathItem, op: Operation, secured: boolean): string {
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(resolveParameter);
  const query = params
    .filter((p) => p.in === 'query' && p.example !== undefined)
    .map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(p.example))}`)
    .join('&');
  const url = `$AVIARY_URL${path.replace(/\{([^}]+)\}/g, (_, name: string) => `$${shellVariable(name)}`)}${query ? `?${query}` : ''}`;
  const lines = [method === 'get' ? `curl "${url}"` : `curl -X ${method.toUpperCase()} "${url}"`];
  if (secured) lines.push('-H "Authorization: AccessKey $AVIARY_ACCESS_KEY"');
  const body = op.requestBody && !('$ref' in op.requestBody) ? op.requestBody.content['application/json'] : undefined;
  if (body?.example !== undefined) {
    lines.push('-H "Content-Type: application/json"', `-d ${shellQuote(JSON.stringify(body.example))}`);
  }
  return lines.join(' \\\n  ');
}

function addComponents(target: Record<string, JsonSchema>, source: Record<string, JsonSchema>, owner: string): void {
  for (const [name, schema] of Object.entries(source)) {
    if (name in target && JSON.stringify(target[name]) !== JSON.stringify(schema)) {
      throw new Error(`OpenAPI: schema "${name}" of ${owner} is already defined differently`);
    }
    target[name] = schema;
  }
}

function sortResponses(responses: Operation['responses']): Operation['responses'] {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => (a === 'default' ? 1 : b === 'default' ? -1 : a.localeCompare(b))));
}

export function buildOpenApiDocument(features: ApiFeature[] = FEATURES): OpenApiDocument {
  const catalogue = errorCatalogue();
  const schemas: Record<string, JsonSchema> = {};
  addComponents(schemas, errorSchemas, 'common.ts');
  const paths: Record<string, PathItem> = {};

  for (const feature of features) {
    addComponents(schemas, feature.schemas ?? {}, feature.tag.name);
    const entries: [string, PathItem, boolean][] = [
      ...Object.entries(feature.paths ?? {}).map(([p, item]): [string, PathItem, boolean] => [p, item, false]),
      ...Object.entries(feature.workspacePaths ?? {}).map(([p, item]): [string, PathItem, boolean] => [WORKSPACE_PREFIX + p, item, true]),
    ];
    for (const [path, source, inWorkspace] of entries) {
      if (paths[path]) throw new Error(`OpenAPI: path ${path} is documented twice`);
      const item: PathItem = { ...source };
      if (inWorkspace) item.parameters = [paramRef('workspaceId'), ...(source.parameters ?? [])];
      for (const method of HTTP_METHODS) {
        const op = source[method];
        if (!op) continue;
        const responses = inWorkspace ? { ...errorRefs(...AUTH_ERROR_STATUSES), ...op.responses } : op.responses;
        const secured = (op.security ?? [{ [SECURITY_SCHEME_NAME]: [] }]).length > 0;
        item[method] = {
          ...op,
          responses: sortResponses(responses),
          'x-codeSamples': op['x-codeSamples'] ?? [{ lang: 'Shell', label: 'curl', source: curlExample(method, path, item, op, secured) }],
        };
      }
      paths[path] = item;
    }
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'Aviary',
      version: packageVersion(),
      summary: "A self-hostable server for Bird's Channels API.",
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'This server' }],
    security: [{ [SECURITY_SCHEME_NAME]: [] }],
    tags: features.map((f) => f.tag),
    paths,
    components: {
      schemas,
      responses: errorResponses(catalogue),
      parameters,
      securitySchemes,
    },
    'x-errorCatalogue': catalogue,
  };
}

let cached: OpenApiDocument | undefined;

/** The document, built on first use and shared after that (it depends on nothing that changes). */
export function openApiDocument(): OpenApiDocument {
  return (cached ??= buildOpenApiDocument());
}
