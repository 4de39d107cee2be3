import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import type { ErrorDetails } from '../errors.ts';
import { mediaUses, refMatchesRow, templateMediaUses, type MediaUse } from './paths.ts';
import { mediaOf, type MediaService } from './service.ts';

// The send-time check of mediaUrls (called from messages/check-send.ts): a URL on this server must
// name media that exist, have been uploaded, and belong to the sending workspace and, for an upload
// bound to a channel, to the sending channel. Problems come back keyed by the JSON path of the URL,
// for a 422. External URLs are not looked at here: connectors fetch them when they send.

export async function checkMediaUrls(
  ctx: AppContext,
  channel: Channel,
  request: { body?: unknown; template?: unknown },
): Promise<ErrorDetails | undefined> {
  const uses = [...mediaUses(request.body), ...templateMediaUses(request.template)];
  if (uses.length === 0) return undefined;
  return checkUses(mediaOf(ctx), channel.workspaceId, channel.id, uses);
}

/**
 * Problems with the server's own media among `uses`, for media sent from (or, channelId null,
 * received into) the workspace.
 */
export async function checkUses(svc: MediaService, workspaceId: string, channelId: string | null, uses: MediaUse[]): Promise<ErrorDetails | undefined> {
  const own = uses.filter((u) => svc.isOwnOrigin(u.url));
  if (own.length === 0) return undefined;
  const details: ErrorDetails = {};
  const problem = (u: MediaUse, message: string) => (details[u.path] ??= []).push(message);
  const refs = own.map((u) => ({ use: u, ref: svc.ownRef(u.url) }));
  const ids = [...new Set(refs.filter((r) => r.ref && r.ref.workspaceId === workspaceId).map((r) => r.ref!.mediaId))];
  const rows = await svc.findMany(workspaceId, ids);
  for (const { use, ref } of refs) {
    if (!ref) {
      problem(use, 'is not an Aviary media URL: use the mediaUrl of a presigned upload or of received media');
      continue;
    }
    if (ref.workspaceId !== workspaceId) {
      problem(use, 'is media of another workspace');
      continue;
    }
    const row = rows.get(ref.mediaId);
    if (!row || !refMatchesRow(ref, row)) {
      problem(use, 'does not exist: no such media in this workspace');
      continue;
    }
    if (row.origin === 'upload' && row.channel_id && channelId && row.channel_id !== channelId) {
      problem(use, `was uploaded for channel ${row.channel_id} and can only be sent there`);
      continue;
    }
    const stored = await svc.ensureStored(row);
    if (!stored) {
      problem(use, 'has not been uploaded yet: POST the file to the uploadUrl of its presigned upload first');
      continue;
    }
    rows.set(stored.id, stored);
  }
  return Object.keys(details).length ? details : undefined;
}
