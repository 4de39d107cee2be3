import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import { errors, type ErrorDetails } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { checkUses } from './check.ts';
import { describeFetchError } from './fetch.ts';
import { mediaUses, type MediaUse } from './paths.ts';
import { mediaOf, type MediaService } from './service.ts';

// Media in incoming messages are kept by Aviary: each mediaUrl of the body is replaced by Aviary's
// own (`/workspaces/{ws}/messages/{messageId}/media/{mediaId}`, access key required), so the message
// keeps working after the provider's link expires.
//   - A provider's link is fetched (url-guard, size limit, timeout: fetch.ts) and streamed into the
//     store. Real connectors call storeInboundMedia with fetchExternal on.
//   - An Aviary media URL of the workspace (an upload) becomes media of the message, sharing the
//     stored bytes: that is how a sandbox contact "sends a file" without any network.

export interface InboundMediaOptions {
  /** Fetch and store external links (a provider's); off: leave them as they are. */
  fetchExternal: boolean;
}

/**
 * Stores the media of an incoming message about to be recorded as `messageId`, rewriting the URLs
 * in `uses` (in place, in the body they came from). Returns the problems, keyed by JSON path; the
 * URLs with problems are left unchanged.
 */
export async function storeInboundMedia(
  svc: MediaService,
  channel: Channel,
  messageId: string,
  uses: MediaUse[],
  options: InboundMediaOptions,
): Promise<ErrorDetails | undefined> {
  const ws = channel.workspaceId;
  const problems: ErrorDetails = { ...(await checkUses(svc, ws, null, uses)) };
  for (const u of uses) {
    if (problems[u.path]) continue;
    const ref = svc.ownRef(u.url);
    if (ref) {
      const row = await svc.find(ws, ref.mediaId);
      if (!row) continue; // checked above
      const media = await svc.storeInbound(ws, channel.id, messageId, null, {
        contentType: row.content_type,
        objectKey: row.object_key,
        size: Number(row.size ?? 0),
        filename: u.filename ?? row.filename ?? undefined,
      });
      u.set(svc.mediaUrl(media));
    } else if (options.fetchExternal && !svc.isOwnOrigin(u.url)) {
      try {
        const fetched = await svc.fetchExternal(u.url);
        const media = await svc.storeInbound(ws, channel.id, messageId, fetched.stream, {
          contentType: fetched.contentType?.trim() || u.declaredType || 'application/octet-stream',
          filename: u.filename,
          sourceUrl: u.url,
        });
        u.set(svc.mediaUrl(media));
      } catch (err) {
        problems[u.path] = [describeFetchError(err)];
      }
    }
  }
  return Object.keys(problems).length ? problems : undefined;
}

/**
 * For the sandbox's simulated inbound messages: picks the message's id and time, stores its media
 * and returns the body to record. Uploads named in the body are always taken; external links are
 * fetched only when the channel's connector config says `"fetchInboundMedia": true` (the sandbox
 * otherwise never reaches out to the network). A problem is a 422 naming the URL's path.
 */
export async function prepareInboundMedia(
  ctx: AppContext,
  channel: Channel,
  body: Record<string, unknown>,
): Promise<{ id: string; at: Date; body: Record<string, unknown> }> {
  const at = ctx.clock.now();
  const id = uuidv7(at.getTime());
  if (mediaUses(body).length === 0) return { id, at, body };
  const copy = structuredClone(body);
  const problems = await storeInboundMedia(mediaOf(ctx), channel, id, mediaUses(copy), {
    fetchExternal: channel.connectorConfig.fetchInboundMedia === true,
  });
  if (problems) throw errors.invalidPayload(problems);
  return { id, at, body: copy };
}
