// The slice of OpenAPI 3.1 that Aviary's document uses, typed just enough to catch a misplaced field
// in a feature module. Schemas are plain JSON Schema 2020-12 objects (OpenAPI 3.1's dialect).

export type JsonSchema = { [keyword: string]: unknown };

export interface Reference {
  $ref: string;
  summary?: string;
  description?: string;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  description?: string;
  required?: boolean;
  deprecated?: boolean;
  allowEmptyValue?: boolean;
  style?: 'form' | 'simple' | 'deepObject' | 'pipeDelimited' | 'spaceDelimited';
  explode?: boolean;
  schema: JsonSchema;
  /** Shown in the curl example of the operation when set on a query parameter. */
  example?: unknown;
}

export interface MediaType {
  schema?: JsonSchema;
  example?: unknown;
}

export interface RequestBody {
  description?: string;
  required?: boolean;
  content: Record<string, MediaType>;
}

export interface Header {
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface Response {
  description: string;
  headers?: Record<string, Header | Reference>;
  content?: Record<string, MediaType>;
}

export type SecurityRequirement = Record<string, string[]>;

export interface CodeSample {
  lang: string;
  label: string;
  source: string;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: (Parameter | Reference)[];
  requestBody?: RequestBody | Reference;
  responses: Record<string, Response | Reference>;
  /** Overrides the document's default (`[]`: no authentication). */
  security?: SecurityRequirement[];
  deprecated?: boolean;
  'x-codeSamples'?: CodeSample[];
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type PathItem = {
  summary?: string;
  description?: string;
  parameters?: (Parameter | Reference)[];
} & { [M in HttpMethod]?: Operation };

export interface Tag {
  name: string;
  description?: string;
}

export interface SecurityScheme {
  type: 'apiKey' | 'http' | 'mutualTLS' | 'oauth2' | 'openIdConnect';
  description?: string;
  scheme?: string;
  name?: string;
  in?: 'query' | 'header' | 'cookie';
}

export interface Components {
  schemas: Record<string, JsonSchema>;
  responses: Record<string, Response>;
  parameters: Record<string, Parameter>;
  headers?: Record<string, Header>;
  securitySchemes: Record<string, SecurityScheme>;
}

/** One row of the error catalogue (src/errors.ts), as the document's `x-errorCatalogue` lists it. */
export interface ErrorCatalogueEntry {
  status: number;
  code: string;
  when: string;
  example: { code: string; message: string; details?: Record<string, string[]> };
}

export interface OpenApiDocument {
  openapi: string;
  jsonSchemaDialect: string;
  info: { title: string; version: string; summary?: string; description?: string; license?: { name: string; identifier?: string } };
  servers: { url: string; description?: string }[];
  security: SecurityRequirement[];
  tags: Tag[];
  paths: Record<string, PathItem>;
  components: Components;
  'x-errorCatalogue': ErrorCatalogueEntry[];
}

/**
 * What a feature area contributes: its tag, its paths and the schemas they reference. `workspacePaths`
 * are relative to `/workspaces/{workspaceId}` and sit behind the access-key check, exactly as
 * src/server/server.ts mounts them; the workspace parameter and the authentication errors (401, 403,
 * 404, 429) are added to each of their operations by index.ts.
 */
export interface ApiFeature {
  tag: Tag;
  paths?: Record<string, PathItem>;
  workspacePaths?: Record<string, PathItem>;
  schemas?: Record<string, JsonSchema>;
}
