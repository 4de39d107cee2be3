import { PLATFORM_NAMES, PLATFORMS, type Platform } from '../channels/platforms.ts';
import { INTERACTION_TYPES } from '../interactions/rules.ts';

// The events Aviary emits and the filters each accepts. All belong to Bird's `channels` service:
//   <platform>.inbound      every incoming message                  filters: channelId, platformId
//   <platform>.outbound     every status change of an outgoing one  filters: channelId, messageStatus, platformId
//   <platform>.interaction  every interaction on an outgoing one    filters: channelId, interactionType, platformId
//   channel.created         a channel was created                   filters: platformId
//   channel.updated         a channel was changed                   filters: channelId, platformId
// for every platform of src/channels/platforms.ts.

export const SERVICES = ['channels', 'numbers', 'payments', 'conversations'] as const;
export type Service = (typeof SERVICES)[number];

export const FILTER_KEYS = ['channelId', 'messageStatus', 'interactionType', 'platformId'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** Bird's message statuses: what a messageStatus filter may name. */
export const MESSAGE_STATUSES = [
  'accepted',
  'rejected',
  'processing',
  'scheduled',
  'sent',
  'sending_failed',
  'delivered',
  'delivery_failed',
  'deleted',
  'skipped',
] as const;

export interface EventSpec {
  service: Service;
  /** The platform a `<platform>.*` event is about; undefined for channel.* events. */
  platform?: Platform;
  filters: readonly FilterKey[];
}

export const EVENTS: ReadonlyMap<string, EventSpec> = new Map<string, EventSpec>([
  ...PLATFORM_NAMES.flatMap((platform): [string, EventSpec][] => [
    [`${platform}.inbound`, { service: 'channels', platform, filters: ['channelId', 'platformId'] }],
    [`${platform}.outbound`, { service: 'channels', platform, filters: ['channelId', 'messageStatus', 'platformId'] }],
    [`${platform}.interaction`, { service: 'channels', platform, filters: ['channelId', 'interactionType', 'platformId'] }],
  ]),
  ['channel.created', { service: 'channels', filters: ['platformId'] }],
  ['channel.updated', { service: 'channels', filters: ['channelId', 'platformId'] }],
]);

export const EVENT_NAMES = [...EVENTS.keys()];

/** The values a filter key may take for an event, or undefined when any value of its form will do. */
export function allowedFilterValues(key: FilterKey, spec: EventSpec): readonly string[] | undefined {
  switch (key) {
    case 'messageStatus':
      return MESSAGE_STATUSES;
    case 'interactionType':
      return INTERACTION_TYPES;
    case 'platformId':
      return spec.platform ? [PLATFORMS[spec.platform].platformId] : Object.values(PLATFORMS).map((p) => p.platformId);
    case 'channelId':
      return undefined;
  }
}

/** Filter keys that may appear more than once (any of the values matches). */
export const REPEATABLE_KEYS: ReadonlySet<FilterKey> = new Set(['messageStatus', 'interactionType', 'platformId']);
