// What a webhook event may be, as the outbox sees it: a name, the service it belongs to, and the
// filters a subscription to it may set, with the values each may take. The outbox knows no event of
// its own: the features that emit events describe them (messages/message-events.ts,
// interactions/interaction-events.ts, channels/channel-events.ts) and the composition root
// (context.ts) hands the whole catalogue to the outbox. All of Aviary's events belong to Bird's
// `channels` service:
//   <platform>.inbound      every incoming message                  filters: channelId, platformId
//   <platform>.outbound     every status change of an outgoing one  filters: channelId, messageStatus, platformId
//   <platform>.interaction  every interaction on an outgoing one    filters: channelId, interactionType, platformId
//   channel.created         a channel was created                   filters: platformId
//   channel.updated         a channel was changed                   filters: channelId, platformId

export const SERVICES = ['channels', 'numbers', 'payments', 'conversations'] as const;
export type Service = (typeof SERVICES)[number];

export const FILTER_KEYS = ['channelId', 'messageStatus', 'interactionType', 'platformId'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export interface EventSpec {
  service: Service;
  filters: readonly FilterKey[];
  /** The values a filter key may take; a key not named takes any value of its form. */
  values?: Partial<Record<FilterKey, readonly string[]>>;
}

export type EventCatalogue = ReadonlyMap<string, EventSpec>;

/** The values a filter key may take for an event, or undefined when any value of its form will do. */
export function allowedFilterValues(key: FilterKey, spec: EventSpec): readonly string[] | undefined {
  return spec.values?.[key];
}

/** Filter keys that may appear more than once (any of the values matches). */
export const REPEATABLE_KEYS: ReadonlySet<FilterKey> = new Set(['messageStatus', 'interactionType', 'platformId']);
