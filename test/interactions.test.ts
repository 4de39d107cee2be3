import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { sql } from 'kysely';
import { birdFormats } from '../src/message-body/create-message-schema.ts';
import { startTestAviary, storeKinds, type TestAviary } from './support/harness.ts';
import { birdConformance, readBirdSpec } from './support/bird-schema.ts';

// Bird's ChannelContactInformation, straight from its fragment (compiled on first use: a bare clone has no fragment).
let contactInfoSchema: ValidateFunction | undefined;
function validateContactInfo(obj: unknown): string[] | null {
  contactInfoSchema ??= new Ajv({ strict: false, allErrors: true, formats: birdFormats }).compile(
    readBirdSpec('getChannelContactInformation.json').components.schemas.ChannelContactInformation,
  );
  return contactInfoSchema(obj) ? null : (contactInfoSchema.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

const PLATFORMS = ['sms', 'whatsapp', 'email', 'rcs', 'telegram', 'line', 'apple-business-chat', 'instagram', 'facebook', 'viber'];

// Bird's table ("Message status and interactions"), plus the RCS and Apple Messages interaction pages.
const ALLOWED: Record<string, string[]> = {
  read: ['whatsapp', 'facebook', 'instagram', 'line', 'rcs'],
  opened: ['email'],
  clicked: ['email', 'whatsapp', 'facebook', 'instagram', 'line', 'rcs', 'apple-business-chat'],
  'reported-as-spam': ['email'],
  'unsubscribe-request': ['email'],
  'delete-request': [],
  reaction: ['whatsapp', 'facebook', 'instagram'],
};

const RECEIVER: Record<string, string> = {
  sms: '+31612345678',
  whatsapp: '+31612345678',
  rcs: '+31612345678',
  viber: '+31612345678',
  email: 'ann@example.com',
  telegram: '12345',
  line: 'U4af4980629',
  'apple-business-chat': 'urn:mbid:abc123',
  instagram: 'ig-17841400000',
  facebook: 'fb-2900000000',
};

const textBody = (text: string, actions?: unknown[]) => ({ type: 'text', text: { text, ...(actions ? { actions } : {}) } });
const reply = (text: string) => ({ type: 'reply', reply: { text } });
const postback = (text: string, payload: string) => ({ type: 'postback', postback: { text, payload } });

for (const kind of storeKinds()) {
  describe(`interactions, simulation and channel contacts (${kind})`, () => {
    const bird = birdConformance('Message');
    const contactInfo = birdConformance('ChannelContactInformation', validateContactInfo);
    let t: TestAviary;
    const ws = () => `/workspaces/${t.workspaceId}`;
    const ch = (platform: string) => `${ws()}/channels/${t.channel(platform)}`;

    const inbound = async (platform: string, from: string, body: unknown = textBody('hi'), extra: Record<string, unknown> = {}) => {
      const res = await t.request('POST', `${ch(platform)}/sandbox/inbound`, { contact: { identifierValue: from }, body, ...extra });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const send = async (platform: string, body: unknown, to = RECEIVER[platform], extra: Record<string, unknown> = {}) => {
      const req: Record<string, unknown> = { receiver: { contacts: [{ identifierValue: to }] }, body, ...extra };
      if (platform === 'email' && (body as { type: string }).type === 'text') {
        (body as { text: Record<string, unknown> }).text.metadata = { subject: 'Hello' };
      }
      const res = await t.request('POST', `${ch(platform)}/messages`, req);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body;
    };
    /** A message that reached `delivered` (WhatsApp: after the contact opened the service window). */
    const delivered = async (platform: string, body: unknown = textBody('hello'), to = RECEIVER[platform]) => {
      if (platform === 'whatsapp') await inbound('whatsapp', to);
      const m = await send(platform, body, to);
      return t.waitForStatus(m.id, 'delivered');
    };
    const simulate = (platform: string, messageId: string, body: unknown) =>
      t.request('POST', `${ch(platform)}/messages/${messageId}/sandbox/interactions`, body);
    const created = async (platform: string, messageId: string, body: unknown) => {
      const res = await simulate(platform, messageId, body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const list = async (platform: string, messageId: string, query = '') => {
      const res = await t.request('GET', `${ch(platform)}/messages/${messageId}/interactions${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const incoming = async () => (await t.request('GET', `${ws()}/messages?direction=incoming`)).body.results;

    before(async () => {
      t = await startTestAviary(kind);
    });
    after(() => t.close());
    beforeEach(async () => {
      await t.reset();
      await sql`truncate interactions`.execute(t.aviary.ctx.db);
    });

    test('every interaction type is accepted exactly on the platforms Bird lists for it', async () => {
      const messages: Record<string, any> = {};
      await Promise.all(PLATFORMS.map(async (p) => (messages[p] = await delivered(p))));
      for (const [type, allowed] of Object.entries(ALLOWED)) {
        for (const platform of PLATFORMS) {
          const body: Record<string, unknown> = { type };
          if (type === 'clicked') Object.assign(body, platform === 'email' ? { link: { url: 'https://example.com/x' } } : { payload: 'p1' });
          if (type === 'reaction') body.emoji = '👍';
          const res = await simulate(platform, messages[platform].id, body);
          if (allowed.includes(platform)) {
            assert.equal(res.status, 201, `${type} on ${platform}: ${JSON.stringify(res.body)}`);
            assert.equal(res.body.type, type);
          } else {
            assert.equal(res.status, 422, `${type} on ${platform} must be refused: ${JSON.stringify(res.body)}`);
            assert.equal(res.body.code, 'InvalidPayload');
            assert.match(res.body.details['.type'][0], new RegExp(`"${type}" is not (supported on ${platform}|reported on any platform)`));
          }
        }
      }
      // Everything accepted is listed on its message.
      for (const platform of PLATFORMS) {
        const expected = Object.entries(ALLOWED).filter(([, a]) => a.includes(platform)).map(([type]) => type);
        const page = await list(platform, messages[platform].id);
        assert.deepEqual(page.results.map((i: any) => i.type), expected, platform);
        assert.equal(page.nextPageToken, null);
      }
    });

    test('RCS: read, suggestion and card clicks carry the details and metadata of Bird\'s examples', async () => {
      const m = await delivered('rcs', textBody('Pick one', [reply('Yes'), postback('Website', 'website')]));
      const read = await created('rcs', m.id, { type: 'read' });
      assert.deepEqual(Object.keys(read), ['id', 'type', 'createdAt', 'messageId', 'channelId', 'platformId', 'messageReference', 'messagePartsCount', 'messageTags', 'receiver']);
      assert.equal(read.platformId, 'rcs-google');
      assert.equal(read.messageId, m.id);
      assert.equal(read.channelId, t.channel('rcs'));
      assert.equal(read.messageReference, m.parts[0].platformReference);
      assert.equal(read.messagePartsCount, 1);
      assert.equal(read.messageTags, null);
      assert.deepEqual(read.receiver, { contacts: [m.receiver.contacts[0]] });
      assert.equal(read.receiver.contacts[0].identifierValue, '+31612345678');

      const byIndex = await created('rcs', m.id, { type: 'clicked', item: 1 });
      assert.equal(byIndex.details, 'item_1_clicked');
      assert.deepEqual(byIndex.metadata, { button: { payload: 'website' } });
      const byPayload = await created('rcs', m.id, { type: 'clicked', payload: 'website' });
      assert.equal(byPayload.details, 'item_1_clicked');
      const replyClick = await created('rcs', m.id, { type: 'clicked', item: 0 });
      assert.equal(replyClick.details, 'item_0_clicked');
      assert.deepEqual(replyClick.metadata, { button: { payload: 'Yes' } });

      const cards = await delivered('rcs', {
        type: 'carousel',
        carousel: {
          items: [
            { title: 'A', description: 'a', mediaUrl: 'https://example.com/a.png', actions: [postback('Buy', 'buy-a'), postback('Site', 'website')] },
            { title: 'B', description: 'b', mediaUrl: 'https://example.com/b.png', actions: [postback('Buy', 'buy-b')] },
          ],
        },
      });
      const card = await created('rcs', cards.id, { type: 'clicked', card: 0, item: 1 });
      assert.equal(card.details, 'card_0_item_1_clicked');
      assert.deepEqual(card.metadata, { button: { payload: 'website' } });
      const cardByPayload = await created('rcs', cards.id, { type: 'clicked', payload: 'buy-b' });
      assert.equal(cardByPayload.details, 'card_1_item_0_clicked');

      for (const [body, key] of [
        [{ type: 'clicked', item: 5 }, '.item'],
        [{ type: 'clicked', card: 3, item: 0 }, '.card'],
        [{ type: 'clicked', card: 0 }, '.item'],
        [{ type: 'clicked', payload: 'nope' }, '.payload'],
        [{ type: 'clicked', item: 0, payload: 'nope' }, '.payload'],
        [{ type: 'clicked', time: { startTime: '2025-12-03T15:55:28Z', duration: 60 } }, '.time'],
      ] as const) {
        const res = await simulate('rcs', body.type && 'card' in body && body.card === 3 ? cards.id : m.id, body);
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.ok(res.body.details[key], `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      }

      const page = await list('rcs', m.id);
      assert.deepEqual(page.results.map((i: any) => i.id), [read.id, byIndex.id, byPayload.id, replyClick.id]);
      assert.deepEqual(page.results[1], byIndex);
    });

    test('Apple Messages: reply, postback, list picker and time picker clicks as in Bird\'s examples', async () => {
      const extra = (units: string) => ({ chargeable_unit: units, 'conversation.visibility': 'public', useCase: 'conversation' });
      const m = await delivered('apple-business-chat', textBody('Coming?', [reply('Sure'), reply('Maybe'), postback('Yes', 'option-yes')]));
      const r = await created('apple-business-chat', m.id, { type: 'clicked', item: 1 });
      assert.equal(r.platformId, 'apple-business-chat');
      assert.equal(r.details, 'item_1_clicked');
      assert.deepEqual(r.metadata, { extraInformation: extra('1'), button: { payload: '1' } });
      const p = await created('apple-business-chat', m.id, { type: 'clicked', payload: 'option-yes' });
      assert.equal(p.details, 'item_option-yes_clicked');
      assert.deepEqual(p.metadata, { extraInformation: extra('1'), button: { payload: 'option-yes' } });

      const picker = await delivered('apple-business-chat', {
        type: 'list',
        list: {
          text: 'Pick a size',
          items: [
            { title: 'Section 1', actions: [postback('S', 'subtitleS1O1'), postback('M', 'subtitleS1O2')] },
            { title: 'Section 2', actions: [postback('L', 'subtitleS2O1')] },
          ],
        },
      });
      const l = await created('apple-business-chat', picker.id, { type: 'clicked', payload: 'subtitleS1O1' });
      assert.equal(l.details, 'item_subtitleS1O1_clicked');
      assert.deepEqual(l.metadata, { extraInformation: extra('1'), button: { payload: 'subtitleS1O1' } });
      const l2 = await created('apple-business-chat', picker.id, { type: 'clicked', item: 2 });
      assert.equal(l2.details, 'item_subtitleS2O1_clicked');

      const slot = await delivered('apple-business-chat', textBody('When?'));
      const time = await created('apple-business-chat', slot.id, { type: 'clicked', time: { startTime: '2025-12-03T15:55:28.398Z', duration: 3600 } });
      const identifier = '{"duration":"3600","startTime":"2025-12-03 15:55:28.398 +0000 UTC"}';
      assert.equal(time.details, `item_${identifier}_clicked`);
      assert.deepEqual(time.metadata, {
        extraInformation: {
          chargeable_unit: '1',
          'conversation.visibility': 'public',
          duration: '3600',
          identifier,
          startTime: '1764777328',
          useCase: 'conversation',
        },
      });
      assert.deepEqual(Object.keys(time.metadata.extraInformation), ['chargeable_unit', 'conversation.visibility', 'duration', 'identifier', 'startTime', 'useCase']);
      // Without any action on the message, a payload is taken as given (pickers Bird does not model as a body).
      const free = await created('apple-business-chat', slot.id, { type: 'clicked', payload: '1' });
      assert.equal(free.details, 'item_1_clicked');
      const none = await simulate('apple-business-chat', slot.id, { type: 'clicked' });
      assert.equal(none.status, 422);
    });

    test('reaction: react with an emoji, then unreact', async () => {
      const m = await delivered('whatsapp');
      const react = await created('whatsapp', m.id, { type: 'reaction', emoji: '👍' });
      assert.deepEqual(react.metadata, { reaction: { emoji: '👍', action: 'react' } });
      assert.equal(react.details, undefined);
      const unreact = await created('whatsapp', m.id, { type: 'reaction', action: { type: 'unreact' } });
      assert.deepEqual(unreact.metadata, { reaction: { emoji: '👍', action: 'unreact' } });
      const again = await created('whatsapp', m.id, { type: 'reaction', action: 'react', emoji: '❤️' });
      assert.deepEqual(again.metadata, { reaction: { emoji: '❤️', action: 'react' } });
      const flag = await created('whatsapp', m.id, { type: 'reaction', emoji: '🇳🇱' });
      assert.equal(flag.metadata.reaction.emoji, '🇳🇱');
      const page = await list('whatsapp', m.id);
      assert.deepEqual(page.results.map((i: any) => i.metadata.reaction.action), ['react', 'unreact', 'react', 'react']);

      for (const [body, key] of [
        [{ type: 'reaction' }, '.emoji'],
        [{ type: 'reaction', emoji: 'ok' }, '.emoji'],
        [{ type: 'reaction', emoji: '👍', action: 'love' }, '.action'],
        [{ type: 'reaction', emoji: '👍', action: { type: 'love' } }, '.action'],
        [{ type: 'read', emoji: '👍' }, '.emoji'],
        [{ type: 'reaction', emoji: '👍', item: 0 }, '.item'],
      ] as const) {
        const res = await simulate('whatsapp', m.id, body);
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.ok(res.body.details[key], `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      }
    });

    test('email: opened, link click, spam report; unsubscribe-request suppresses the address so the next send is skipped', async () => {
      const m = await delivered('email', textBody('News'), 'Ann@Example.com');
      assert.equal((await created('email', m.id, { type: 'opened' })).type, 'opened');
      const click = await created('email', m.id, { type: 'clicked', link: { url: 'https://example.com/offer', name: 'offer' } });
      assert.deepEqual(click.metadata, { link: { name: 'offer', url: 'https://example.com/offer' } });
      assert.equal((await simulate('email', m.id, { type: 'clicked', payload: 'x' })).status, 422);
      assert.equal((await created('email', m.id, { type: 'reported-as-spam' })).type, 'reported-as-spam');

      const before = await send('email', textBody('Still here'));
      await t.waitForStatus(before.id, 'delivered');
      const unsub = await created('email', m.id, { type: 'unsubscribe-request' });
      assert.equal(unsub.receiver.contacts[0].identifierValue, 'ann@example.com');
      const listed = await t.request('GET', `${ws()}/suppressions?identifierValue=ann@example.com`);
      assert.equal(listed.status, 200);
      assert.equal(listed.body.results.length, 1);
      assert.equal(listed.body.results[0].identifierKey, 'emailaddress');
      assert.equal(listed.body.results[0].reason, 'unsubscribe-request');

      const after = await send('email', textBody('Are you there?'), 'ann@example.com');
      const done = await t.waitForStatus(after.id, 'skipped');
      assert.equal(done.reason, 'suppressed');
      // Another address is unaffected.
      const other = await send('email', textBody('Hi Bob'), 'bob@example.com');
      await t.waitForStatus(other.id, 'delivered');
    });

    test('inbound simulation creates the contact and opens the WhatsApp window, so a later text is delivered', async () => {
      const closed = await send('whatsapp', textBody('too early'), '+31687654321');
      const failed = await t.waitForStatus(closed.id, 'sending_failed');
      assert.deepEqual(failed.failure.source, { name: 'whatsapp', code: '131047' });

      const msg = await inbound('whatsapp', ' +31612340000 ', textBody('Hello business'), { meta: { extraInformation: { user_locale: 'nl' } } });
      assert.equal(msg.direction, 'incoming');
      assert.equal(msg.status, 'delivered');
      assert.equal(msg.channelId, t.channel('whatsapp'));
      assert.deepEqual(msg.body, textBody('Hello business'));
      assert.deepEqual(msg.meta, { extraInformation: { user_locale: 'nl' } });
      assert.equal(msg.sender.contact.identifierKey, 'phonenumber');
      assert.equal(msg.sender.contact.identifierValue, '+31612340000');
      bird.collect('inbound simulation creates the contact and', msg);
      const fetched = await t.request('GET', `${ws()}/messages/${msg.id}`);
      assert.deepEqual(fetched.body, msg);

      const contacts = await t.request('GET', `${ws()}/contacts?identifierValue=${encodeURIComponent('+31612340000')}`);
      assert.equal(contacts.body.results.length, 1);
      assert.equal(contacts.body.results[0].id, msg.sender.contact.id);

      const later = await send('whatsapp', textBody('Thanks for writing'), '+31612340000');
      const done = await t.waitForStatus(later.id, 'delivered');
      assert.equal(done.receiver.contacts[0].id, msg.sender.contact.id);

      // Other platforms and identifier keys; an email address is stored as sends store it (lower case).
      const mail = await inbound('email', 'Carol@Example.com', { type: 'text', text: { text: 'hi', metadata: { subject: 'Question' } } });
      assert.equal(mail.sender.contact.identifierKey, 'emailaddress');
      assert.equal(mail.sender.contact.identifierValue, 'carol@example.com');
      const tg = await t.request('POST', `${ch('telegram')}/sandbox/inbound`, {
        contact: { identifierKey: 'telegramid', identifierValue: '987' },
        body: { type: 'image', image: { images: [{ mediaUrl: 'https://example.com/p.png' }] } },
        replyTo: { id: later.id, type: 'message' },
      });
      assert.equal(tg.status, 201, JSON.stringify(tg.body));
      assert.deepEqual(tg.body.replyTo, { id: later.id, type: 'message' });
      bird.collect('inbound simulation creates the contact and', tg.body);
    });

    test('WhatsApp button click: a clicked interaction plus an inbound text carrying the postback, in reply to the message', async () => {
      const m = await delivered('whatsapp', textBody('Choose', [reply('Reply action 1'), postback('Postback action 1', 'postback-payload-1')]));
      const res = await simulate('whatsapp', m.id, { type: 'clicked', item: 1 });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.details, 'item_1_clicked');
      assert.deepEqual(res.body.metadata, { button: { payload: 'postback-payload-1' } });
      const inboundId = res.headers.get('x-aviary-inbound-message-id');
      assert.ok(inboundId);

      const [click] = (await incoming()).filter((x: any) => x.replyTo?.type === 'click');
      assert.equal(click.id, inboundId);
      assert.deepEqual(click.replyTo, { id: m.id, order: 0, type: 'click' });
      assert.deepEqual(click.body, {
        type: 'text',
        text: { text: 'Postback action 1', actions: [{ type: 'postback', postback: { text: 'Postback action 1', payload: 'postback-payload-1' } }] },
      });
      assert.equal(click.sender.contact.id, m.receiver.contacts[0].id);
      assert.equal(click.status, 'delivered');
      bird.collect('WhatsApp button click: a clicked interaction', click);

      // A reply button: its text is the payload.
      const r = await created('whatsapp', m.id, { type: 'clicked', payload: 'Reply action 1' });
      assert.equal(r.details, 'item_0_clicked');
      const clicks = (await incoming()).filter((x: any) => x.replyTo?.type === 'click');
      assert.equal(clicks.length, 2);
      assert.ok(clicks.some((x: any) => x.body.text.actions[0].postback.payload === 'Reply action 1'));

      // Read and reactions are not messages.
      await created('whatsapp', m.id, { type: 'read' });
      await created('whatsapp', m.id, { type: 'reaction', emoji: '👍' });
      assert.equal((await incoming()).filter((x: any) => x.replyTo?.type === 'click').length, 2);
    });

    test('channel contact endpoint: WhatsApp service window, validated against Bird\'s fragment', async () => {
      const first = await send('whatsapp', textBody('hi'), '+31612349999');
      const contactId = first.receiver.contacts[0].id;
      const before = await t.request('GET', `${ch('whatsapp')}/contacts/${contactId}`);
      assert.equal(before.status, 200);
      assert.deepEqual(before.body, { serviceWindowExpireAt: null, isPermanentSession: false, metadata: {} });

      const msg = await inbound('whatsapp', '+31612349999');
      const open = await t.request('GET', `${ch('whatsapp')}/contacts/${contactId}?contactIdentifierValue=%2B31612349999`);
      assert.equal(open.status, 200);
      assert.equal(open.body.serviceWindowExpireAt, new Date(new Date(msg.createdAt).getTime() + 24 * 3600 * 1000).toISOString());
      assert.equal(open.body.isPermanentSession, false);

      // The window belongs to the channel: SMS has none.
      const sms = await t.request('GET', `${ch('sms')}/contacts/${contactId}`);
      assert.deepEqual(sms.body, { serviceWindowExpireAt: null, isPermanentSession: true, metadata: {} });
      contactInfo.collect('channel contact endpoint', before.body, open.body, sms.body);

      for (const url of [
        `${ch('whatsapp')}/contacts/00000000-0000-4000-8000-000000000000`,
        `${ch('whatsapp')}/contacts/not-a-uuid`,
        `${ws()}/channels/00000000-0000-4000-8000-000000000000/contacts/${contactId}`,
      ]) {
        const res = await t.request('GET', url);
        assert.equal(res.status, 404, url);
        assert.equal(res.body.code, 'NotFound');
      }
    });

    test('interactions only on outgoing messages that were sent or delivered; simulation only on sandbox channels', async () => {
      const scheduled = await send('whatsapp', textBody('later'), '+31612345678', { scheduledFor: new Date(Date.now() + 3_600_000).toISOString() });
      await t.waitForStatus(scheduled.id, 'scheduled');
      const r1 = await simulate('whatsapp', scheduled.id, { type: 'read' });
      assert.equal(r1.status, 409);
      assert.equal(r1.body.code, 'Conflict');
      assert.match(r1.body.message, /scheduled/);

      const failed = await send('whatsapp', textBody('no window'), '+31600000001');
      await t.waitForStatus(failed.id, 'sending_failed');
      assert.equal((await simulate('whatsapp', failed.id, { type: 'read' })).status, 409);

      const msg = await inbound('whatsapp', '+31612345678');
      const r2 = await simulate('whatsapp', msg.id, { type: 'read' });
      assert.equal(r2.status, 409);
      assert.match(r2.body.message, /incoming/);

      const noReceipt = await send('sms', textBody('x'), '+31612341006');
      await t.waitForStatus(noReceipt.id, 'sent');
      assert.equal((await simulate('sms', noReceipt.id, { type: 'read' })).status, 422); // sent is fine; SMS has no read

      // A channel whose connector is not the sandbox.
      const real = await t.request('POST', `${ws()}/channels`, { name: 'real', platform: 'email', connector: { type: 'smtp', config: { host: '127.0.0.1', port: 2525, tls: 'none', from: { address: 'news@aviary.test' } } } });
      assert.equal(real.status, 201, JSON.stringify(real.body));
      const base = `${ws()}/channels/${real.body.id}`;
      const a = await t.request('POST', `${base}/sandbox/inbound`, { contact: { identifierValue: '+31612345678' }, body: textBody('x') });
      assert.equal(a.status, 409);
      assert.equal(a.body.code, 'Conflict');
      const b = await t.request('POST', `${base}/messages/${msg.id}/sandbox/interactions`, { type: 'read' });
      assert.equal(b.status, 409);

      // Unknown channel, unknown message, message of another channel.
      const zero = '00000000-0000-4000-8000-000000000000';
      assert.equal((await t.request('POST', `${ws()}/channels/${zero}/sandbox/inbound`, { contact: { identifierValue: '+31612345678' }, body: textBody('x') })).status, 404);
      assert.equal((await simulate('whatsapp', zero, { type: 'read' })).status, 404);
      assert.equal((await simulate('whatsapp', 'nope', { type: 'read' })).status, 404);
      const sms = await delivered('sms');
      assert.equal((await simulate('whatsapp', sms.id, { type: 'read' })).status, 404);
      assert.equal((await t.request('GET', `${ch('whatsapp')}/messages/${sms.id}/interactions`)).status, 404);
      assert.equal((await t.request('GET', `${ch('sms')}/messages/${zero}/interactions`)).status, 404);
      assert.equal((await t.request('GET', `${ws()}/channels/${zero}/messages/${sms.id}/interactions`)).status, 404);

      // Inactive sandbox channel: no inbound.
      await t.request('PATCH', ch('viber'), { status: 'inactive' });
      const inactive = await t.request('POST', `${ch('viber')}/sandbox/inbound`, { contact: { identifierValue: '+31612345678' }, body: textBody('x') });
      assert.equal(inactive.status, 409);
      assert.equal(inactive.body.code, 'ChannelInactive');
    });

    test('bad simulation bodies are 4xx with Bird-shaped details, never 500', async () => {
      const m = await delivered('facebook');
      const cases: [unknown, number, string?][] = [
        [{ type: 'invalid' }, 422, '.type'],
        [{ type: 'poked' }, 422, '.type'],
        [{}, 422, '.'],
        [[], 422, '.'],
        ['"read"', 422, '.'],
        [{ type: 'read', extra: 1 }, 422, '.'],
        [{ type: 'clicked', item: -1 }, 422, '.item'],
        [{ type: 'clicked', item: 1.5 }, 422, '.item'],
        [{ type: 'clicked', link: { url: 42 } }, 422, '.link.url'],
        [{ type: 'clicked', contact: { identifierValue: 'someone-else' }, payload: 'x' }, 422, '.contact.identifierValue'],
        [{ type: 'reaction', emoji: '👍', action: null }, 422, '.action'],
      ];
      for (const [body, status, key] of cases) {
        const res = await simulate('facebook', m.id, body);
        assert.equal(res.status, status, `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
        if (key) assert.ok(res.body.details?.[key], `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      }
      const noBody = await t.request('POST', `${ch('facebook')}/messages/${m.id}/sandbox/interactions`);
      assert.equal(noBody.status, 400);
      const badJson = await t.request('POST', `${ch('facebook')}/messages/${m.id}/sandbox/interactions`, '{"type":');
      assert.equal(badJson.status, 400);

      const inboundCases: [unknown, string][] = [
        [{ body: textBody('x') }, '.'],
        [{ contact: { identifierValue: '+31612345678' } }, '.'],
        [{ contact: { identifierValue: '   ' }, body: textBody('x') }, '.contact.identifierValue'],
        [{ contact: { identifierValue: '+31612345678', identifierKey: '' }, body: textBody('x') }, '.contact.identifierKey'],
        [{ contact: { identifierValue: '+31612345678' }, body: { type: 'nope' } }, '.body.type'],
        [{ contact: { identifierValue: '+31612345678' }, body: { type: 'text', text: {} } }, '.body.text'], // as a send says it: property "text" is required,
        [{ contact: { identifierValue: '+31612345678' }, body: textBody('x'), replyTo: { id: 'x', type: 'poke' } }, '.replyTo.type'],
        [{ contact: { identifierValue: '+31612345678' }, body: textBody('x'), meta: { nope: 1 } }, '.meta'],
      ];
      for (const [body, key] of inboundCases) {
        const res = await t.request('POST', `${ch('facebook')}/sandbox/inbound`, body);
        assert.equal(res.status, 422, `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
        assert.ok(res.body.details?.[key], `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      }
      assert.equal((await t.request('POST', `${ch('facebook')}/sandbox/inbound`)).status, 400);
    });

    test('listing pages through a message\'s interactions', async () => {
      const m = await delivered('line');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await created('line', m.id, { type: i % 2 ? 'read' : 'clicked', payload: i % 2 ? undefined : `p${i}` })).id);
      const seen: string[] = [];
      let token: string | null = null;
      do {
        const page: any = await list('line', m.id, `?limit=2${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        assert.ok(page.results.length <= 2);
        seen.push(...page.results.map((r: any) => r.id));
        token = page.nextPageToken;
      } while (token);
      assert.deepEqual(seen, ids);
      // The message's tags and reference are reported with each interaction.
      const tagged = await send('line', textBody('sale'), RECEIVER.line, { tags: ['Promo', 'spring'] });
      await t.waitForStatus(tagged.id, 'delivered');
      const ti = await created('line', tagged.id, { type: 'read' });
      assert.deepEqual(ti.messageTags, ['promo', 'spring']);
      assert.equal(ti.messageReference, `${tagged.id}:1`);
      assert.deepEqual((await list('line', tagged.id)).results, [ti]);
      assert.deepEqual((await list('line', m.id, '?limit=100')).results.map((r: any) => r.id), ids);
      for (const q of ['?limit=0', '?limit=101', '?limit=x', '?pageToken=garbage', '?limit=1&limit=2']) {
        const res = await t.request('GET', `${ch('line')}/messages/${m.id}/interactions${q}`);
        assert.equal(res.status, 400, q);
      }
    });
    bird.test(3);
    contactInfo.test(3);
  });
}
