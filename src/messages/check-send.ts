import type { Channel } from '../channels/channels.ts';
import type { AppContext } from '../context.ts';
import { errors } from '../errors.ts';
import { checkMediaUrls } from '../media/check.ts';
import { renderTemplate } from '../templates/render.ts';
import { resolveRecipients, type PendingMessage } from './accept-message.ts';
import { checkPlatformRules } from './platform-rules.ts';
import { validateCreateMessage, type CreateMessageRequest } from '../message-body/validate-message.ts';
import { hasSubscriptionUrl } from '../webhooks/subscriptions.ts';

// Everything a send request must pass before it is stored, in order: Bird's schema, the template (a
// template send is rendered to the body it will carry), the channel platform's rules, and who it goes
// to. Throws a 422 naming the first stage's problems; used by single and batch sends alike.
export async function checkSend(ctx: AppContext, channel: Channel, raw: unknown): Promise<Omit<PendingMessage, 'batchId'>> {
  const checked = validateCreateMessage(raw, ctx.clock.now());
  if (!checked.ok) throw errors.invalidPayload(checked.details);
  let request = checked.value;
  if (request.template && !request.body) {
    const rendered = await renderTemplate(ctx.db, channel.workspaceId, channel.platform, request.template);
    if (!rendered.ok) throw errors.invalidPayload(rendered.details);
    request = {
      ...request,
      body: rendered.body as CreateMessageRequest['body'],
      template: { ...request.template, projectId: rendered.projectId, version: rendered.versionId, locale: rendered.locale },
    };
  }
  const problems = checkPlatformRules(channel.platform, request);
  if (problems) throw errors.invalidPayload(problems);
  // mediaUrls on this server must name uploaded media of this workspace (and channel), checked as sent.
  const mediaProblems = await checkMediaUrls(ctx, channel, checked.value);
  if (mediaProblems) throw errors.invalidPayload(mediaProblems);
  // Bird: notification.url must be the URL of one of the workspace's webhook subscriptions.
  const notifyUrl = request.notification?.url;
  if (notifyUrl !== undefined && !(await hasSubscriptionUrl(ctx.db, channel.workspaceId, notifyUrl))) {
    throw errors.invalidPayload({ '.notification.url': ['does not match the URL of any webhook subscription of this workspace'] });
  }
  return { channel, request, recipients: await resolveRecipients(ctx.db, channel, request) };
}
