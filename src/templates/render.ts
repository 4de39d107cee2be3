// Turns a send request's `template` into the message body it stands for. Pure lookups and checks:
// it writes nothing, so the send path may call it before accepting the message. Every problem is
// reported as Bird 422 details keyed by the JSON path of the request field at fault.

import type { Platform } from '../channels/platforms.ts';
import { PLATFORMS } from '../channels/platforms.ts';
import type { Db } from '../db/database.ts';
import type { ErrorDetails } from '../errors.ts';
import type { CreateMessageRequest, MessageBody } from '../message-body/validate-message.ts';
import { checkBody, entryBody, sameLocale, substitute, type ContentEntry, type VariableDefinition } from './content.ts';
import { getActiveVersion, getProject, getProjectByName, getVersion, getVersionByNumber, listVersions, type Project, type Version } from './store.ts';

export type TemplateRequest = NonNullable<CreateMessageRequest['template']>;

export type RenderResult =
  | { ok: true; body: MessageBody; projectId: string; versionId: string; locale: string }
  | { ok: false; details: Record<string, string[]> };

const SIMPLE_KEY = /^[A-Za-z0-9_$-]+$/;
const keyPath = (parent: string, key: string) => (SIMPLE_KEY.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`);

function fail(path: string, message: string): RenderResult {
  return { ok: false, details: { [path]: [message] } };
}

export async function renderTemplate(db: Db, workspaceId: string, platform: Platform, template: TemplateRequest): Promise<RenderResult> {
  // ---- the project ----
  let project: Project | undefined;
  if (template.projectId !== undefined) {
    project = await getProject(db, workspaceId, template.projectId);
    if (!project) return fail('.template.projectId', `project "${template.projectId}" does not exist in this workspace`);
    if (template.name !== undefined && template.name !== project.name) {
      return fail('.template.name', `does not match the name of project "${project.id}" ("${project.name}")`);
    }
  } else if (template.name !== undefined) {
    project = await getProjectByName(db, workspaceId, template.name);
    if (!project) return fail('.template.name', `no template project named "${template.name}" exists in this workspace`);
  } else {
    return fail('.template', 'property "projectId" or "name" is required to identify the template');
  }
  const what = `project "${project.name}"`;

  // ---- the version ----
  const requested = template.version ?? 'latest';
  let version: Version | undefined;
  if (requested === 'latest') {
    version = await getActiveVersion(db, workspaceId, project.id);
    if (!version) {
      const newest = (await listVersions(db, workspaceId, project.id, { limit: 1, reverse: false })).items[0];
      const hint = !newest
        ? 'it has no versions yet; create one and activate it'
        : newest.status === 'draft'
          ? `its newest, version ${newest.number}, is a draft; activate it`
          : newest.status === 'pending'
            ? `its newest, version ${newest.number}, is pending review; approve it`
            : `its newest, version ${newest.number}, is ${newest.status}; create a new version or activate an earlier one`;
      return fail('.template.version', `${what} has no active version (the one "latest" stands for): ${hint}`);
    }
  } else {
    version = /^[1-9]\d{0,8}$/.test(requested)
      ? await getVersionByNumber(db, workspaceId, project.id, Number(requested))
      : await getVersion(db, workspaceId, project.id, requested);
    if (!version) return fail('.template.version', `version "${requested}" does not exist in ${what}`);
  }
  const which = `version ${version.number} of ${what}`;

  // ---- may it be sent here? ----
  if (platform === 'whatsapp') {
    const review = version.approvals.find((a) => a.platform === 'whatsapp');
    if (review?.status !== 'approved') {
      const state = review?.status ?? (version.status === 'draft' ? 'not submitted (draft)' : 'not submitted: the version does not target whatsapp');
      return fail('.template', `${which} is not approved for WhatsApp (approval status: ${state}); status must be approved for whatsapp channels`);
    }
  }
  if (version.status !== 'active' && version.status !== 'inactive') {
    const why =
      version.status === 'draft'
        ? 'is a draft: activate it first'
        : version.status === 'pending'
          ? 'is pending review and cannot be sent yet'
          : 'was rejected and cannot be sent';
    return fail('.template.version', `${which} ${why}`);
  }
  const supports = version.supportedPlatforms.includes('all') || version.supportedPlatforms.includes(platform);
  const hasContent = version.genericContent.length > 0 || version.platformContent.some((e) => e.platform === platform);
  if (!supports || !hasContent) {
    return fail('.template', `${which} has no content for ${PLATFORMS[platform].label} (supported platforms: ${version.supportedPlatforms.join(', ') || 'none'})`);
  }

  // ---- the content: exact locale, then its language, then the default locale ----
  const candidates: string[] = [];
  const consider = (l: string | undefined) => {
    if (l && !candidates.some((c) => sameLocale(c, l))) candidates.push(l);
  };
  if (template.locale) {
    consider(template.locale);
    consider(template.locale.replace(/_/g, '-').split('-')[0]);
  }
  consider(version.defaultLocale);
  let entry: ContentEntry | undefined;
  for (const l of candidates) {
    entry =
      version.platformContent.find((e) => e.platform === platform && sameLocale(e.locale, l)) ??
      version.genericContent.find((e) => sameLocale(e.locale, l));
    if (entry) break;
  }
  if (!entry) {
    const available = [
      ...version.platformContent.filter((e) => e.platform === platform).map((e) => e.locale),
      ...version.genericContent.map((e) => e.locale),
    ];
    return fail(
      '.template.locale',
      `${which} has no content for locale "${template.locale ?? version.defaultLocale}" on ${platform} (tried ${candidates.join(', ')}; available: ${[...new Set(available)].join(', ')})`,
    );
  }

  // ---- values ----
  const details: ErrorDetails = {};
  const add = (path: string, message: string) => (details[path] ??= []).push(message);
  const defs = new Map<string, VariableDefinition>(version.variables.map((v) => [v.key, v]));
  const values = new Map<string, string>();
  const given = new Set<string>();

  (template.parameters ?? []).forEach((p, i) => {
    const path = `.template.parameters[${i}]`;
    if ((template.parameters ?? []).findIndex((q) => q.key === p.key) !== i) {
      add(`${path}.key`, `duplicate parameter "${p.key}"`);
      return;
    }
    const def = defs.get(p.key);
    if (!def || p.value === undefined) return; // Keys the version does not define are ignored.
    given.add(p.key);
    if (p.type !== def.type || typeof p.value !== def.type) {
      add(path, `parameter "${p.key}" must be of type ${def.type}, as the template defines it; got ${p.type}`);
      return;
    }
    values.set(p.key, String(p.value));
  });
  for (const [key, raw] of Object.entries(template.variables ?? {})) {
    const def = defs.get(key);
    if (!def || given.has(key) || typeof raw !== 'string') continue;
    given.add(key);
    const path = keyPath('.template.variables', key);
    if (def.type === 'number' && (raw.trim() === '' || !Number.isFinite(Number(raw)))) {
      add(path, `variable "${key}" must be a number, as the template defines it; got ${JSON.stringify(raw)}`);
    } else if (def.type === 'boolean' && raw !== 'true' && raw !== 'false') {
      add(path, `variable "${key}" must be true or false, as the template defines it; got ${JSON.stringify(raw)}`);
    } else {
      values.set(key, raw);
    }
  }
  for (const def of version.variables) {
    const value = values.get(def.key);
    if (value === undefined) {
      if (given.has(def.key)) continue; // Given with the wrong type: reported above.
      if (def.required) add('.template.parameters', `missing required parameter "${def.key}" (${def.type})`);
      else values.set(def.key, def.defaultValue === undefined ? '' : String(def.defaultValue));
    } else if (def.characterLimit !== undefined && value.length > def.characterLimit) {
      add('.template.parameters', `parameter "${def.key}" must be at most ${def.characterLimit} characters long`);
    }
  }
  if (Object.keys(details).length) return { ok: false, details };

  // ---- render ----
  let body = substitute(entryBody(entry), values) as Record<string, unknown>;
  if (template.attachments?.length && (body.type === 'text' || body.type === 'html')) {
    const inner = body[body.type as string] as Record<string, unknown>;
    body = { ...body, [body.type as string]: { ...inner, attachments: [...((inner.attachments as unknown[]) ?? []), ...template.attachments] } };
  }
  const problems = checkBody(body);
  if (problems) {
    return {
      ok: false,
      details: {
        '.template.parameters': Object.entries(problems).flatMap(([p, ms]) => ms.map((m) => `the rendered message is invalid: body${p === '.' ? '' : p} ${m}`)),
      },
    };
  }
  return { ok: true, body: body as unknown as MessageBody, projectId: project.id, versionId: version.id, locale: entry.locale };
}
