// The platforms Aviary knows. `platform` is the short key used in webhook event names
// (`<platform>.outbound`) and in the list filter; `platformId` is the value Bird reports on channels
// and interactions (e.g. "rcs-google", "apple-business-chat"); `identifierKey` is the contact
// identifier a receiver is addressed by on that platform.

export const PLATFORMS = {
  sms: { platformId: 'sms-messagebird', identifierKey: 'phonenumber', label: 'SMS' },
  whatsapp: { platformId: 'whatsapp', identifierKey: 'phonenumber', label: 'WhatsApp' },
  email: { platformId: 'email-messagebird', identifierKey: 'emailaddress', label: 'Email' },
  rcs: { platformId: 'rcs-google', identifierKey: 'phonenumber', label: 'RCS' },
  telegram: { platformId: 'telegram', identifierKey: 'telegramid', label: 'Telegram' },
  line: { platformId: 'line', identifierKey: 'lineuserid', label: 'LINE' },
  'apple-business-chat': { platformId: 'apple-business-chat', identifierKey: 'appleid', label: 'Apple Messages for Business' },
  instagram: { platformId: 'instagram', identifierKey: 'instagramid', label: 'Instagram' },
  facebook: { platformId: 'facebook', identifierKey: 'facebookid', label: 'Facebook Messenger' },
  viber: { platformId: 'viber', identifierKey: 'phonenumber', label: 'Viber' },
} as const;

export type Platform = keyof typeof PLATFORMS;
export const PLATFORM_NAMES = Object.keys(PLATFORMS) as Platform[];

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && Object.hasOwn(PLATFORMS, value);
}
