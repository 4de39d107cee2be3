// What a template version holds and how its content becomes a Bird message body.
//
// A version has content entries, each for one locale: `genericContent` (any platform) and
// `platformContent` (one platform, preferred over generic content on that platform). An entry carries
// either `body`, a Channels API message body exactly as POST .../messages accepts it, or `blocks`,
// Bird's Studio blocks (text with a header/body/footer role, image, file, action), which render to a
// text, image or file body. Every string in either form may hold `{{key}}` placeholders.

import type { ValidateFunction } from 'ajv';
import { PLATFORM_NAMES, PLATFORMS, isPlatform, type Platform } from '../channels/platforms.ts';
import type { ErrorDetails } from '../errors.ts';
import { createMessageSchema } from '../message-body/create-message-schema.ts';
import { ajv, ajvDetails, bodyValidator } from '../http/validate.ts';

export const VARIABLE_TYPES = ['string', 'number', 'boolean'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];
export type Scalar = string | number | boolean;

export interface VariableDefinition {
  key: string;
  type: VariableType;
  required: boolean;
  description?: string;
  example?: Scalar;
  /** Used when an optional variable is not given; without it the placeholder renders as "". */
  defaultValue?: Scalar;
  characterLimit?: number;
  format?: string;
}

export interface Block {
  id?: string;
  reference?: string;
  role?: string;
  hidden?: boolean;
  type: 'text' | 'image' | 'file' | 'action';
  text?: { text: string };
  image?: { mediaUrl: string; altText?: string };
  file?: { mediaUrl: string; contentType: string; filename?: string; altText?: string };
  action?: Record<string, unknown>;
}

export interface ContentEntry {
  locale: string;
  type?: string;
  platform?: Platform;
  channelIds?: string[];
  channelGroupIds?: string[];
  body?: Record<string, unknown>;
  blocks?: Block[];
}

export interface Deployment {
  key: string;
  value: string;
  locale?: string;
  platform?: string;
}

/** A version's content as stored: validated, platforms normalised, every placeholder declared. */
export interface VersionContent {
  description: string | null;
  defaultLocale: string;
  supportedPlatforms: string[];
  locales: string[];
  variables: VariableDefinition[];
  genericContent: ContentEntry[];
  platformContent: ContentEntry[];
  deployments: Deployment[];
  /** Platforms whose review must pass before the version is usable there (WhatsApp). */
  reviewPlatforms: Platform[];
}

export interface CreateVersionBody {
  description?: string;
  defaultLocale: string;
  supportedPlatforms?: string[];
  variables?: Array<Partial<VariableDefinition> & { key: string }>;
  genericContent?: ContentEntry[];
  platformContent?: Array<Omit<ContentEntry, 'platform'> & { platform: string }>;
  deployments?: Deployment[];
  shortLinks?: unknown;
  approval?: 'auto' | 'manual';
}

// ---- request schema ----

const platformIds = Object.values(PLATFORMS).map((p) => p.platformId);
const PLATFORM_VALUES = [...new Set([...PLATFORM_NAMES, ...platformIds])];
export const LOCALE_PATTERN = '^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$';
export const VARIABLE_KEY_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$';
const locale = { type: 'string', pattern: LOCALE_PATTERN };
const scalar = { type: ['string', 'number', 'boolean'] };
const uuidList = { type: 'array', maxItems: 100, items: { type: 'string', format: 'uuid' } };

const block = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    id: { type: 'string' },
    reference: { type: 'string' },
    role: { type: 'string' },
    hidden: { type: 'boolean' },
    type: { type: 'string', enum: ['text', 'image', 'file', 'action'] },
    text: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string' } } },
    image: {
      type: 'object',
      additionalProperties: false,
      required: ['mediaUrl'],
      properties: { mediaUrl: { type: 'string', minLength: 1 }, altText: { type: 'string' } },
    },
    file: {
      type: 'object',
      additionalProperties: false,
      required: ['mediaUrl', 'contentType'],
      properties: {
        mediaUrl: { type: 'string', minLength: 1 },
        contentType: { type: 'string', minLength: 1 },
        filename: { type: 'string' },
        altText: { type: 'string' },
      },
    },
    action: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } },
  },
  allOf: ['text', 'image', 'file', 'action'].map((t) => ({
    if: { properties: { type: { const: t } }, required: ['type'] },
    then: { required: [t] },
  })),
};

function contentEntry(withPlatform: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    required: withPlatform ? ['locale', 'platform'] : ['locale'],
    properties: {
      locale,
      type: { type: 'string' },
      ...(withPlatform ? { platform: { type: 'string', enum: PLATFORM_VALUES } } : {}),
      channelIds: uuidList,
      channelGroupIds: uuidList,
      body: { type: 'object', required: ['type'] },
      blocks: { type: 'array', minItems: 1, maxItems: 50, items: block },
    },
  };
}

/** The body of POST .../channel-templates (also published in the OpenAPI document). */
export const createVersionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['defaultLocale'],
  properties: {
    description: { type: ['string', 'null'], maxLength: 1000 },
    defaultLocale: locale,
    supportedPlatforms: { type: 'array', uniqueItems: true, items: { type: 'string', enum: ['all', ...PLATFORM_VALUES] } },
    variables: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key'],
        properties: {
          key: { type: 'string', pattern: VARIABLE_KEY_PATTERN },
          type: { type: 'string', enum: VARIABLE_TYPES },
          required: { type: 'boolean' },
          description: { type: 'string', maxLength: 1000 },
          example: scalar,
          defaultValue: scalar,
          characterLimit: { type: 'integer', minimum: 1 },
          format: { type: 'string' },
          // Bird's Studio sends these; accepted and kept, not interpreted.
          examplesLocale: { type: 'object' },
          sourceUrl: { type: 'object' },
        },
      },
    },
    genericContent: { type: 'array', maxItems: 200, items: contentEntry(false) },
    platformContent: { type: 'array', maxItems: 200, items: contentEntry(true) },
    deployments: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'value'],
        properties: {
          key: { type: 'string', minLength: 1 },
          value: { type: 'string' },
          locale: { type: 'string' },
          platform: { type: 'string' },
          channelIds: uuidList,
        },
      },
    },
    shortLinks: { type: ['object', 'null'] },
    approval: { type: 'string', enum: ['auto', 'manual'] },
  },
};

export const validateCreateVersion = bodyValidator<CreateVersionBody>(createVersionSchema);

// ---- Bird message body schema (the send endpoint's own) ----

// Compiling the schema object again returns the send path's cached validator (Ajv caches by object) and makes its
// $id resolvable, whichever module loads first.
ajv.compile(createMessageSchema);
const validateBirdBody: ValidateFunction = ajv.compile({ $ref: `${createMessageSchema.$id}#/definitions/Body` });

/** Problems with a message body, keyed by JSON path relative to the body ("." is the body). */
export function checkBody(body: unknown): ErrorDetails | null {
  return validateBirdBody(body) ? null : ajvDetails(validateBirdBody.errors, body);
}

// ---- placeholders ----

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*\}\}/g;

export function placeholdersIn(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(PLACEHOLDER)) into.add(m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) placeholdersIn(v, into);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) placeholdersIn(v, into);
  }
  return into;
}

/** Replaces `{{key}}` in every string of `value`; placeholders without a value are left as they are. */
export function substitute<T>(value: T, values: ReadonlyMap<string, string>): T {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (whole, key: string) => values.get(key) ?? whole) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, values)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, values);
    return out as T;
  }
  return value;
}

// ---- blocks -> body ----

const BLOCK_META = new Set(['id', 'reference', 'role', 'hidden']);

/**
 * Studio blocks as one Channels API body: the visible text blocks joined by a blank line (in the
 * order given, so header, body, footer), images or files as the media of an image or file body with
 * that text as its caption, action blocks as the body's actions.
 */
export function blocksToBody(blocks: Block[]): Record<string, unknown> {
  const visible = blocks.filter((b) => !b.hidden);
  const text = visible.filter((b) => b.type === 'text').map((b) => b.text!.text).join('\n\n');
  const actions = visible
    .filter((b) => b.type === 'action')
    .map((b) => Object.fromEntries(Object.entries(b.action!).filter(([k]) => !BLOCK_META.has(k))));
  const images = visible.filter((b) => b.type === 'image').map((b) => ({ ...b.image! }));
  const files = visible.filter((b) => b.type === 'file').map((b) => ({ ...b.file! }));
  const extras = { ...(text ? { text } : {}), ...(actions.length ? { actions } : {}) };
  if (images.length) return { type: 'image', image: { images, ...extras } };
  if (files.length) return { type: 'file', file: { files, ...extras } };
  return { type: 'text', text: { text, ...(actions.length ? { actions } : {}) } };
}

export function entryBody(entry: ContentEntry): Record<string, unknown> {
  return entry.body ?? blocksToBody(entry.blocks ?? []);
}

// ---- locales ----

export function normaliseLocale(l: string): string {
  return l.replace(/_/g, '-');
}

export function sameLocale(a: string, b: string): boolean {
  return normaliseLocale(a).toLowerCase() === normaliseLocale(b).toLowerCase();
}

export function platformOf(value: string): Platform | undefined {
  if (isPlatform(value)) return value;
  return (Object.keys(PLATFORMS) as Platform[]).find((p) => PLATFORMS[p].platformId === value);
}

// ---- compile a create request ----

function sampleValue(v: VariableDefinition): string {
  const sample = v.example ?? v.defaultValue ?? (v.type === 'number' ? 1 : v.type === 'boolean' ? true : 'x');
  return String(sample);
}

function add(details: ErrorDetails, path: string, message: string): void {
  const list = (details[path] ??= []);
  if (!list.includes(message)) list.push(message);
}

function matchesType(value: Scalar, type: VariableType): boolean {
  return typeof value === type;
}

/**
 * Checks what a schema cannot (unique locales, the default locale having content, block mixes, the
 * rendered bodies being valid Bird bodies) and returns the version content to store, or details.
 */
export function compileVersion(input: CreateVersionBody): { ok: true; content: VersionContent } | { ok: false; details: ErrorDetails } {
  const details: ErrorDetails = {};
  const generic: ContentEntry[] = (input.genericContent ?? []).map((e) => ({ ...e, locale: normaliseLocale(e.locale) }));
  const platformContent: ContentEntry[] = (input.platformContent ?? []).map((e) => ({
    ...e,
    locale: normaliseLocale(e.locale),
    platform: platformOf(e.platform)!,
  }));
  if (generic.length + platformContent.length === 0) {
    add(details, '.', 'at least one entry in "genericContent" or "platformContent" is required');
  }

  // One entry per (platform, locale).
  const seen = new Map<string, string>();
  const entries: Array<{ entry: ContentEntry; path: string }> = [
    ...generic.map((entry, i) => ({ entry, path: `.genericContent[${i}]` })),
    ...platformContent.map((entry, i) => ({ entry, path: `.platformContent[${i}]` })),
  ];
  for (const { entry, path } of entries) {
    const k = `${entry.platform ?? '*'}|${entry.locale.toLowerCase()}`;
    const first = seen.get(k);
    if (first) add(details, `${path}.locale`, `duplicates ${first}: one entry per ${entry.platform ? 'platform and ' : ''}locale`);
    else seen.set(k, path);
    if ((entry.body === undefined) === (entry.blocks === undefined)) {
      add(details, path, 'must have exactly one of "body" or "blocks"');
    }
    if (entry.blocks) {
      const kinds = new Set(entry.blocks.filter((b) => !b.hidden).map((b) => b.type));
      if (kinds.has('image') && kinds.has('file')) add(details, `${path}.blocks`, 'may hold image blocks or file blocks, not both');
      if (!kinds.has('text') && !kinds.has('image') && !kinds.has('file')) {
        add(details, `${path}.blocks`, 'must contain at least one visible text, image or file block');
      }
    }
  }

  // Explicit supportedPlatforms must cover every platform that has content of its own.
  const declared = input.supportedPlatforms?.map((p) => (p === 'all' ? 'all' : platformOf(p)!));
  if (declared && !declared.includes('all')) {
    platformContent.forEach((e, i) => {
      if (!declared.includes(e.platform!)) add(details, `.platformContent[${i}].platform`, `"${e.platform}" is not in supportedPlatforms`);
    });
  }

  const defaultLocale = normaliseLocale(input.defaultLocale);
  if (entries.length && !entries.some(({ entry }) => sameLocale(entry.locale, defaultLocale))) {
    add(details, '.defaultLocale', `must exist in the content: no entry has locale "${defaultLocale}"`);
  }

  // Variables: the declared ones, then every placeholder used without a declaration (a required string).
  const variables: VariableDefinition[] = [];
  const byKey = new Map<string, VariableDefinition>();
  (input.variables ?? []).forEach((raw, i) => {
    const path = `.variables[${i}]`;
    if (byKey.has(raw.key)) add(details, `${path}.key`, `duplicate variable "${raw.key}"`);
    const def: VariableDefinition = { ...(raw as VariableDefinition), type: raw.type ?? 'string', required: raw.required ?? true };
    if (def.example !== undefined && !matchesType(def.example, def.type)) add(details, `${path}.example`, `must be a ${def.type}, as the variable's type`);
    if (def.defaultValue !== undefined && !matchesType(def.defaultValue, def.type)) {
      add(details, `${path}.defaultValue`, `must be a ${def.type}, as the variable's type`);
    }
    byKey.set(def.key, def);
    variables.push(def);
  });
  const used = new Set<string>();
  for (const { entry } of entries) placeholdersIn(entryBody(entry), used);
  for (const key of used) {
    if (byKey.has(key)) continue;
    const def: VariableDefinition = { key, type: 'string', required: true };
    byKey.set(key, def);
    variables.push(def);
  }

  // Every entry must render, with sample values, to a body the send endpoint accepts.
  if (Object.keys(details).length === 0) {
    const samples = new Map(variables.map((v) => [v.key, sampleValue(v)]));
    for (const { entry, path } of entries) {
      const problems = checkBody(substitute(entryBody(entry), samples));
      if (!problems) continue;
      for (const [p, messages] of Object.entries(problems)) {
        if (entry.body) {
          for (const m of messages) add(details, `${path}.body${p === '.' ? '' : p}`, m);
        } else {
          for (const m of messages) add(details, `${path}.blocks`, `render to an invalid message body: ${p} ${m}`);
        }
      }
    }
  }
  if (Object.keys(details).length) return { ok: false, details };

  const contentPlatforms = [...new Set(platformContent.map((e) => e.platform!))];
  const supportedPlatforms = declared ? [...new Set(declared)] : [...contentPlatforms, ...(generic.length ? ['all'] : [])];
  const reviewPlatforms: Platform[] =
    supportedPlatforms.includes('whatsapp') || contentPlatforms.includes('whatsapp') ? ['whatsapp'] : [];
  const locales: string[] = [];
  for (const { entry } of entries) if (!locales.some((l) => sameLocale(l, entry.locale))) locales.push(entry.locale);

  for (const e of [...generic, ...platformContent]) e.type ??= String(entryBody(e).type);
  return {
    ok: true,
    content: {
      description: input.description ?? null,
      defaultLocale,
      supportedPlatforms,
      locales,
      variables,
      genericContent: generic,
      platformContent,
      deployments: input.deployments ?? [],
      reviewPlatforms,
    },
  };
}

