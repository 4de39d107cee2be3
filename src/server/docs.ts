import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BASE_URL_PLACEHOLDER, escapeHtml, renderDocsHtml } from './openapi/html.ts';
import { openApiDocument } from './openapi/index.ts';
import { HTTP_METHODS, type HttpMethod, type OpenApiDocument } from './openapi/types.ts';

// GET /openapi.json and GET /docs: the API described by src/server/openapi/, as a document for tools and
// as a page for people. Both are public, built on first request and then served from memory.

let json: string | undefined;
let html: string | undefined;

/** `/workspaces/:workspaceId/channels` -> `/workspaces/{workspaceId}/channels`. */
export function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}');
}

/** The URL the client reached us at, for the page's examples; a placeholder if the Host header looks odd. */
function baseUrl(request: FastifyRequest): string {
  const host = request.host;
  return /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(host) ? `${request.protocol}://${host}` : 'http://127.0.0.1:8080';
}

export function docsRoutes(app: FastifyInstance): void {
  // Every route registered from here on (all of the workspace API), to point out any that the document
  // does not describe. HEAD routes are Fastify's automatic twins of GET routes.
  const routes: { method: HttpMethod; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const m = method.toLowerCase() as HttpMethod;
      if (m !== 'head' && HTTP_METHODS.includes(m)) routes.push({ method: m, url: route.url ?? route.path });
    }
  });

  let checked = false;
  const documentFor = (request: FastifyRequest): OpenApiDocument => {
    const doc = openApiDocument();
    if (!checked) {
      checked = true;
      const missing = routes.filter((r) => !doc.paths[toOpenApiPath(r.url)]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.url}`);
      if (missing.length) request.log.warn({ routes: missing }, 'routes missing from the OpenAPI document: describe them in src/server/openapi/');
    }
    return doc;
  };

  app.get('/openapi.json', async (request, reply) => {
    json ??= JSON.stringify(documentFor(request));
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.get('/docs', async (request, reply) => {
    html ??= renderDocsHtml(documentFor(request));
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
      .send(html.replace(BASE_URL_PLACEHOLDER, escapeHtml(baseUrl(request))));
  });
}
