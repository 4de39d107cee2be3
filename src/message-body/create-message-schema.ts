// Aviary's JSON Schema for the body of POST /workspaces/{ws}/channels/{ch}/messages.
//
// Derived by hand from Bird's OpenAPI 3.0.3 `CreateMessage` (shared/spec/bird-openapi/createChannelMessage.json)
// and checked against it by the differential test in test/messages-validation.test.ts. It must accept and reject
// exactly what Bird's schema does; only the *shape* differs:
//   - Bird's `oneOf` + `discriminator.mapping` unions (body, action, template parameter, section item) become
//     `if type === X then <X>` chains. Every branch pins `type` to one value, so exactly one branch can apply and
//     the two forms accept the same documents, but errors now point inside the one relevant branch instead of
//     listing why every other branch failed too.
//   - Unreachable branches are dropped: body type "template" has no schema behind it and body type "action" maps
//     to a schema whose `type` enum is "permission_request", so Bird rejects both; they are simply not in our enum.
//   - `minLength` on arrays (receiver.contacts, images, files, template.parameters) is a no-op in JSON Schema, so it
//     is dropped here rather than silently turned into `minItems` (that would reject what Bird accepts). Platform
//     rules (messages/platform-rules.ts) catch the empty cases that matter.
//   - The `{{var}}` link pattern is escaped: Ajv compiles patterns with the `u` flag, where a bare `{` is a syntax
//     error; the escaped form means the same thing.
//   - `x-messages` (an annotation keyword registered in http/validate.ts) carries the human message for an
//     `anyOf`/`pattern` failure, which Ajv can only describe generically.
// Descriptions are left out; Bird's file is the reference for what each field means.

import type { SchemaObject } from 'ajv';

// Bird's formats live with the one Ajv instance (http/validate.ts); re-exported for the Bird-schema oracle in tests.
export { birdFormats } from '../http/validate.ts';

const string = { type: 'string' };
const boolean = { type: 'boolean' };
const integer = { type: 'integer' };
const nullableString = { type: 'string', nullable: true };
const nullableUuid = { type: 'string', format: 'uuid', nullable: true };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const nonEmptyString = { type: 'string', minLength: 1 };
const ref = (name: string) => ({ $ref: `#/definitions/${name}` });

// `if type === value then <definition>` for each entry. The `type: 'object'` in the condition keeps non-objects
// from triggering every branch (the enclosing schema already reports "must be an object").
function dispatchOnType(branches: Record<string, string>) {
  return Object.entries(branches).map(([value, definition]) => ({
    if: { type: 'object', required: ['type'], properties: { type: { const: value } } },
    then: ref(definition),
  }));
}

function taggedUnion(branches: Record<string, string>) {
  return {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string', enum: Object.keys(branches) } },
    allOf: dispatchOnType(branches),
  };
}

const SECTION_ITEM_TYPES = {
  text: 'TypeText',
  image: 'TypeImage',
  file: 'TypeFile',
  gif: 'TypeGif',
  location: 'TypeLocation',
  carousel: 'TypeCarousel',
  list: 'TypeList',
};

const mediaAttachment = {
  type: 'object',
  additionalProperties: false,
  required: ['mediaUrl', 'filename'],
  properties: { mediaUrl: { type: 'string', format: 'uri' }, filename: string, inline: boolean },
};

const emailFrom = {
  type: 'object',
  additionalProperties: false,
  // Unanchored in Bird's schema, so it only requires one such character somewhere; kept as is.
  properties: { username: { type: 'string', pattern: '[\\w\\d.-/+]+' }, displayName: string },
};

const telegramMetadata = ref('MetadataTelegram');

const mediaMetadata = {
  type: 'object',
  properties: { subject: string, fallbackText: string, storyType: string, telegram: telegramMetadata },
};

function templateParameter(type: string, value: object | undefined) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'key'],
    properties: { type: { type: 'string', enum: [type] }, key: nonEmptyString, ...(value ? { value } : {}) },
  };
}

function wrapperValue(property: string, definition: object) {
  return { type: 'object', required: [property], additionalProperties: false, properties: { [property]: definition } };
}

function utmParameter(second: 'value' | 'reference') {
  return {
    type: 'object',
    required: ['key', second],
    additionalProperties: false,
    properties: {
      key: { type: 'string', minLength: 1, maxLength: 20 },
      [second]:
        second === 'value'
          ? { type: 'string', minLength: 1, maxLength: 100 }
          : { type: 'string', enum: ['platform_name', 'channel_name'] },
    },
  };
}

const metaFlow = {
  type: 'object',
  additionalProperties: false,
  properties: { id: nullableUuid, name: nullableString, stepId: nullableString, runId: nullableUuid },
};

export const createMessageSchema: SchemaObject = {
  $id: 'https://aviary.dev/schemas/create-message.json',
  type: 'object',
  additionalProperties: false,
  required: ['receiver'],
  properties: {
    sender: ref('Sender'),
    receiver: ref('Receiver'),
    reference: string,
    template: ref('Template'),
    meta: ref('Meta'),
    replyTo: ref('ReplyTo'),
    body: ref('Body'),
    notification: { type: 'object', properties: { url: string } },
    capFrequency: boolean,
    enableLinkTracking: boolean,
    ignoreQuietHours: boolean,
    ignoreGlobalHoldout: boolean,
    tags: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'string',
        pattern: '^[a-zA-Z0-9-_ ]+$',
        minLength: 1,
        maxLength: 50,
        'x-messages': { pattern: 'may only contain letters, digits, spaces, "-" and "_"' },
      },
    },
    shortLinks: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['domain'],
      properties: { domain: { type: 'string', maxLength: 128 } },
    },
    scheduledFor: { type: 'string', format: 'date-time' },
    validity: { type: 'integer', minimum: 0 },
  },
  anyOf: [{ required: ['template'] }, { required: ['body'] }],
  'x-messages': { anyOf: 'either property "body" or "template" is required' },

  definitions: {
    Sender: {
      type: 'object',
      additionalProperties: false,
      required: ['connector'],
      properties: {
        connector: {
          type: 'object',
          required: ['identifierValue'],
          properties: { identifierValue: string, annotations: ref('MessageAnnotations') },
        },
      },
    },
    MessageAnnotations: { type: 'object', additionalProperties: false, properties: { name: string } },
    Receiver: {
      type: 'object',
      additionalProperties: false,
      properties: {
        contacts: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              id: string,
              identifierKey: string,
              identifierValue: string,
              type: { type: 'string', enum: ['cc', 'bcc', 'to'] },
              identifiers: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['identifierKey', 'identifierValue'],
                  properties: { identifierKey: string, identifierValue: string },
                },
              },
              platformAddress: string,
              platformAddressSelector: nullableString,
            },
          },
        },
      },
    },

    Template: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      properties: {
        name: string,
        projectId: string,
        version: string,
        locale: { type: 'string', format: 'locale-bcp47' },
        attachments: { type: 'array', nullable: true, items: mediaAttachment },
        shortLinks: { type: 'object', nullable: true, properties: { enabled: boolean, domain: string } },
        variables: {
          type: 'object',
          nullable: true,
          properties: { default: string },
          additionalProperties: { type: 'string' },
        },
        utmParameters: {
          type: 'array',
          nullable: true,
          minItems: 1,
          maxItems: 8,
          // Bird: oneOf {key, value} | {key, reference}; the two shapes exclude each other, so `reference`
          // decides which one the item is meant to be.
          items: { if: { required: ['reference'] }, then: utmParameter('reference'), else: utmParameter('value') },
        },
        parameters: { type: 'array', nullable: true, items: ref('TemplateParameter') },
        settings: { type: 'object', nullable: true, properties: { disallowMmLite: { type: 'boolean', nullable: true } } },
      },
    },
    TemplateParameter: {
      type: 'object',
      required: ['type', 'key'],
      properties: {
        type: {
          type: 'string',
          enum: [
            'string', 'number', 'boolean', 'object', 'sectionList', 'timeslotList', 'productSections',
            'productList', 'shippingMethodList', 'lineItemList', 'whatsappProductSections', 'whatsappProductItems',
          ],
        },
      },
      allOf: dispatchOnType({
        string: 'ParamString',
        number: 'ParamNumber',
        boolean: 'ParamBoolean',
        object: 'ParamObject',
        sectionList: 'ParamSectionList',
        timeslotList: 'ParamTimeslotList',
        productSections: 'ParamProductSections',
        productList: 'ParamProductList',
        shippingMethodList: 'ParamShippingMethodList',
        lineItemList: 'ParamLineItemList',
        whatsappProductSections: 'ParamWhatsappProductSections',
        whatsappProductItems: 'ParamWhatsappProductItems',
      }),
    },
    ParamString: templateParameter('string', string),
    ParamNumber: templateParameter('number', { type: 'number' }),
    ParamBoolean: templateParameter('boolean', boolean),
    ParamObject: templateParameter('object', { type: 'object' }),
    ParamSectionList: templateParameter('sectionList', wrapperValue('sections', ref('Sections'))),
    ParamTimeslotList: templateParameter('timeslotList', wrapperValue('timeslots', ref('Timeslots'))),
    ParamProductSections: templateParameter('productSections', wrapperValue('productSections', ref('ProductSections'))),
    ParamProductList: templateParameter('productList', wrapperValue('products', ref('ProductList'))),
    ParamShippingMethodList: templateParameter(
      'shippingMethodList',
      wrapperValue('shippingMethods', ref('AppleShippingMethods')),
    ),
    ParamLineItemList: templateParameter('lineItemList', wrapperValue('lineItems', ref('AppleLineItems'))),
    ParamWhatsappProductSections: templateParameter(
      'whatsappProductSections',
      wrapperValue('sections', { type: 'array', items: ref('WhatsappProductSection') }),
    ),
    ParamWhatsappProductItems: templateParameter(
      'whatsappProductItems',
      wrapperValue('products', { type: 'array', items: ref('WhatsappProductItem') }),
    ),

    Sections: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['title', 'items'],
        properties: {
          id: nullableString,
          multipleSelection: boolean,
          title: string,
          items: { type: 'array', items: ref('ReplyAction') },
        },
      },
    },
    ReplyAction: {
      type: 'object',
      required: ['type', 'replyAction'],
      properties: {
        id: string,
        type: { type: 'string', enum: ['reply-action'] },
        reference: string,
        role: string,
        hidden: boolean,
        replyAction: {
          type: 'object',
          required: ['text'],
          properties: { text: string, imageUrl: string, payload: string, subTitle: string },
        },
      },
    },
    Timeslots: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['startTime', 'duration'],
        properties: {
          id: nullableString,
          startTime: { type: 'string', format: 'date-time' },
          duration: { type: 'number' },
        },
      },
    },
    ProductSections: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['title', 'products'],
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 24 },
          products: { type: 'array', items: ref('Product') },
        },
      },
    },
    Product: {
      type: 'object',
      additionalProperties: false,
      required: ['externalProductId'],
      properties: { externalProductId: string, amount: string, text: string },
    },
    ProductList: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'product'],
        properties: { type: { type: 'string', enum: ['product'] }, product: ref('Product') },
      },
    },
    AppleShippingMethods: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['amount', 'label', 'identifier', 'detail'],
        properties: { amount: string, label: string, identifier: string, detail: string },
      },
    },
    AppleLineItems: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['amount', 'text'],
        properties: { amount: string, text: string, type: { type: 'string', enum: ['pending', 'final'] } },
      },
    },
    WhatsappProductSection: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'whatsappProductSection'],
      properties: {
        id: string,
        type: { type: 'string', enum: ['whatsapp-product-section'] },
        reference: string,
        role: string,
        hidden: boolean,
        whatsappProductSection: {
          type: 'object',
          additionalProperties: false,
          required: ['title', 'products'],
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 24 },
            products: { type: 'array', items: ref('WhatsappProductItem') },
          },
        },
      },
    },
    WhatsappProductItem: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'whatsappProductItem'],
      properties: {
        id: string,
        type: { type: 'string', enum: ['whatsapp-product-item'] },
        reference: string,
        role: string,
        hidden: boolean,
        whatsappProductItem: {
          type: 'object',
          additionalProperties: false,
          required: ['externalProductId'],
          properties: { externalProductId: string },
        },
      },
    },

    Meta: {
      type: 'object',
      additionalProperties: false,
      properties: {
        extraInformation: { type: 'object' },
        referral: {
          type: 'object',
          additionalProperties: false,
          properties: {
            source: string,
            title: nullableString,
            text: nullableString,
            group: nullableString,
            metadata: {
              type: 'object',
              nullable: true,
              additionalProperties: false,
              properties: {
                source_id: string,
                source_url: nullableString,
                media_url: nullableString,
                tracking_id: nullableString,
              },
            },
          },
        },
        order: {
          type: 'object',
          additionalProperties: false,
          properties: {
            products: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  externalCatalogId: string,
                  externalProductId: string,
                  quantity: integer,
                  price: {
                    type: 'object',
                    additionalProperties: false,
                    properties: { amount: integer, exponent: integer, currencyCode: string },
                  },
                },
              },
            },
          },
        },
        referredProduct: {
          type: 'object',
          nullable: true,
          additionalProperties: false,
          properties: { externalCatalogId: string, externalProductId: string },
        },
        email: {
          type: 'object',
          additionalProperties: false,
          properties: { subject: string, headers: stringMap, from: emailFrom },
        },
        pushNotifications: {
          type: 'object',
          additionalProperties: false,
          properties: { gatewayTypeOverride: { type: 'string', enum: ['apns', 'firebase', 'web'] } },
        },
        navigatorId: { type: 'string', format: 'uuid' },
        navigatorMessageId: { type: 'string', format: 'uuid' },
        flow: metaFlow,
        journey: metaFlow,
        campaign: {
          type: 'object',
          additionalProperties: false,
          properties: { id: nullableUuid, name: nullableString },
        },
      },
    },
    ReplyTo: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'type'],
      properties: { id: string, order: integer, type: { type: 'string', enum: ['message', 'click', 'referrals'] } },
    },

    // Bird's Body is `nullable`, but its allOf requires an object, so null is rejected there as well (OAS 3.0.3:
    // nullable only widens `type`, other constraints still apply). Not nullable here, same result.
    Body: taggedUnion({
      text: 'TypeText',
      html: 'TypeHTML',
      image: 'TypeImage',
      file: 'TypeFile',
      gif: 'TypeGif',
      location: 'TypeLocation',
      carousel: 'TypeCarousel',
      list: 'TypeList',
      section: 'TypeSection',
      authentication: 'TypeAuthentication',
    }),
    SectionBody: taggedUnion({ ...SECTION_ITEM_TYPES, section: 'TypeSectionNested' }),
    SectionBodyNested: taggedUnion(SECTION_ITEM_TYPES),

    Actions: { type: 'array', nullable: true, items: ref('Action') },
    // Action objects are open (no additionalProperties: false) in Bird's schema, and so are they here.
    Action: taggedUnion({
      link: 'ActionLink',
      reply: 'ActionReply',
      locationRequest: 'ActionLocationRequest',
      buy: 'ActionBuy',
      postback: 'ActionPostback',
    }),
    ActionLink: {
      type: 'object',
      required: ['link', 'type'],
      properties: {
        type: { type: 'string', enum: ['link'] },
        link: {
          type: 'object',
          required: ['text', 'url'],
          properties: {
            text: string,
            url: {
              anyOf: [
                { type: 'string', pattern: '\\{\\{[^{}]+\\}\\}' },
                { type: 'string', format: 'uri' },
              ],
              'x-messages': { anyOf: 'must be a URI or contain a {{variable}} placeholder' },
            },
          },
        },
      },
    },
    ActionReply: {
      type: 'object',
      required: ['reply', 'type'],
      properties: {
        type: { type: 'string', enum: ['reply'] },
        reply: {
          type: 'object',
          required: ['text'],
          properties: { text: string, imageUrl: string, metadata: ref('ActionMetadata') },
        },
      },
    },
    ActionLocationRequest: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { type: 'string', enum: ['locationRequest'] },
        locationRequest: { type: 'object', nullable: true, properties: { text: string } },
      },
    },
    ActionBuy: {
      type: 'object',
      required: ['buy', 'type'],
      properties: {
        type: { type: 'string', enum: ['buy'] },
        buy: {
          type: 'object',
          required: ['text', 'amountCents', 'currency'],
          properties: { text: string, amountCents: integer, currency: { type: 'string', minLength: 3, maxLength: 3 } },
        },
      },
    },
    ActionPostback: {
      type: 'object',
      required: ['postback', 'type'],
      properties: {
        type: { type: 'string', enum: ['postback'] },
        postback: {
          type: 'object',
          required: ['text'],
          properties: { text: string, payload: string, imageUrl: string, metadata: ref('ActionMetadata') },
        },
      },
    },
    // Open apart from `description`, which is closed (Bird's ActionReplyMetadata / ActionPostbackMetadata).
    ActionMetadata: {
      type: 'object',
      properties: {
        description: { type: 'object', additionalProperties: false, properties: { label: { type: 'string', maxLength: 72 } } },
      },
    },
    MetadataTelegram: {
      type: 'object',
      additionalProperties: false,
      properties: { parseMode: { type: 'string', enum: ['Markdown', 'MarkdownV2'] } },
    },

    TypeText: {
      type: 'object',
      additionalProperties: false,
      required: ['text', 'type'],
      properties: {
        type: { type: 'string', enum: ['text'] },
        text: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: {
            text: nonEmptyString,
            attachments: {
              type: 'array',
              nullable: true,
              items: { ...mediaAttachment, properties: { ...mediaAttachment.properties, contentId: string } },
            },
            actions: ref('Actions'),
            metadata: {
              type: 'object',
              additionalProperties: false,
              properties: {
                subject: string,
                headers: stringMap,
                whatsapp: { type: 'object', additionalProperties: false, properties: { previewUrl: boolean } },
                line: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    emoji: {
                      type: 'object',
                      additionalProperties: false,
                      properties: {
                        items: {
                          type: 'array',
                          nullable: true,
                          items: {
                            type: 'object',
                            additionalProperties: false,
                            required: ['index', 'productId', 'emojiId'],
                            // `length` is readOnly in Bird's schema, which Bird still accepts on input.
                            properties: { index: integer, productId: string, emojiId: string, length: { type: 'integer', nullable: true } },
                          },
                        },
                      },
                    },
                  },
                },
                telegram: telegramMetadata,
                apple: { type: 'object', additionalProperties: false, properties: { summaryText: string } },
              },
            },
          },
        },
      },
    },
    TypeHTML: {
      type: 'object',
      additionalProperties: false,
      required: ['html', 'type'],
      properties: {
        type: { type: 'string', enum: ['html'] },
        html: {
          type: 'object',
          additionalProperties: false,
          anyOf: [{ required: ['text'] }, { required: ['html'] }],
          'x-messages': { anyOf: 'either property "text" or "html" is required' },
          properties: {
            text: nonEmptyString,
            html: nonEmptyString,
            attachments: {
              type: 'array',
              nullable: true,
              items: {
                type: 'object',
                additionalProperties: false,
                anyOf: [{ required: ['mediaUrl', 'filename'] }, { required: ['content', 'contentType', 'filename'] }],
                'x-messages': {
                  anyOf: 'requires either "mediaUrl" and "filename", or "content", "contentType" and "filename"',
                },
                properties: {
                  mediaUrl: { type: 'string', format: 'uri' },
                  filename: string,
                  inline: boolean,
                  content: nonEmptyString,
                  contentType: nonEmptyString,
                  contentId: string,
                },
              },
            },
            actions: ref('Actions'),
            metadata: {
              type: 'object',
              additionalProperties: false,
              properties: {
                subject: string,
                emailFrom,
                headers: stringMap,
                initialOpenTracking: boolean,
                clickTracking: boolean,
                openTracking: boolean,
              },
            },
          },
        },
      },
    },
    TypeImage: {
      type: 'object',
      additionalProperties: false,
      required: ['image', 'type'],
      properties: {
        type: { type: 'string', enum: ['image'] },
        image: {
          type: 'object',
          additionalProperties: false,
          required: ['images'],
          properties: {
            text: string,
            images: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['mediaUrl'],
                properties: { mediaUrl: { type: 'string', format: 'uri', minLength: 1 }, altText: string },
              },
            },
            metadata: mediaMetadata,
            actions: ref('Actions'),
          },
        },
      },
    },
    TypeFile: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'type'],
      properties: {
        type: { type: 'string', enum: ['file'] },
        file: {
          type: 'object',
          additionalProperties: false,
          required: ['files'],
          properties: {
            text: string,
            files: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['mediaUrl', 'contentType'],
                properties: {
                  mediaUrl: { type: 'string', format: 'uri', minLength: 1 },
                  contentType: nonEmptyString,
                  filename: string,
                  altText: string,
                  metadata: { type: 'object', properties: { isAnimated: boolean } },
                },
              },
            },
            metadata: mediaMetadata,
            actions: ref('Actions'),
          },
        },
      },
    },
    TypeGif: {
      type: 'object',
      additionalProperties: false,
      required: ['gif', 'type'],
      properties: {
        type: { type: 'string', enum: ['gif'] },
        gif: {
          type: 'object',
          additionalProperties: false,
          required: ['mediaUrl'],
          properties: {
            text: string,
            mediaUrl: { type: 'string', format: 'uri', minLength: 1 },
            altText: string,
            actions: ref('Actions'),
            metadata: { type: 'object', properties: { telegram: telegramMetadata } },
          },
        },
      },
    },
    TypeLocation: {
      type: 'object',
      additionalProperties: false,
      required: ['location', 'type'],
      properties: {
        type: { type: 'string', enum: ['location'] },
        location: {
          type: 'object',
          additionalProperties: false,
          required: ['coordinates'],
          properties: {
            coordinates: {
              type: 'object',
              additionalProperties: false,
              properties: {
                latitude: { type: 'number', minimum: -90, maximum: 90 },
                longitude: { type: 'number', minimum: -180, maximum: 180 },
              },
            },
            location: { type: 'object', additionalProperties: false, properties: { address: string, label: string } },
          },
        },
      },
    },
    TypeCarousel: {
      type: 'object',
      additionalProperties: false,
      required: ['carousel', 'type'],
      properties: {
        type: { type: 'string', enum: ['carousel'] },
        carousel: {
          type: 'object',
          additionalProperties: false,
          required: ['items'],
          properties: { text: { type: 'string', maxLength: 1024 }, items: ref('Items') },
        },
      },
    },
    Items: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          title: string,
          description: string,
          mediaUrl: { type: 'string', format: 'uri', nullable: true },
          altText: string,
          actions: ref('Actions'),
        },
      },
    },
    TypeList: {
      type: 'object',
      additionalProperties: false,
      required: ['list', 'type'],
      properties: {
        type: { type: 'string', enum: ['list'] },
        list: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: {
            title: string,
            text: string,
            altText: string,
            items: ref('Items'),
            actions: ref('Actions'),
            metadata: {
              type: 'object',
              properties: {
                button: { type: 'object', additionalProperties: false, properties: { label: { type: 'string', maxLength: 20 } } },
                replyMessage: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { title: { type: 'string', maxLength: 512 }, text: { type: 'string', maxLength: 512 } },
                },
              },
            },
          },
        },
      },
    },
    TypeSection: {
      type: 'object',
      additionalProperties: false,
      required: ['section', 'type'],
      properties: {
        type: { type: 'string', enum: ['section'] },
        section: {
          type: 'object',
          additionalProperties: false,
          properties: { items: { type: 'array', items: ref('SectionBody') }, configurations: stringMap },
        },
      },
    },
    TypeSectionNested: {
      type: 'object',
      additionalProperties: false,
      required: ['section', 'type'],
      properties: {
        type: { type: 'string', enum: ['section'] },
        section: {
          type: 'object',
          additionalProperties: false,
          properties: { items: { type: 'array', items: ref('SectionBodyNested') }, configurations: stringMap },
        },
      },
    },
    TypeAuthentication: {
      type: 'object',
      additionalProperties: false,
      required: ['authentication', 'type'],
      properties: {
        type: { type: 'string', enum: ['authentication'] },
        authentication: {
          type: 'object',
          additionalProperties: false,
          properties: {
            otp: {
              type: 'object',
              additionalProperties: false,
              required: ['disclaimer'],
              properties: {
                disclaimer: boolean,
                expirationTime: { type: 'integer', minimum: 1, maximum: 90, nullable: true },
                actions: ref('Actions'),
              },
            },
          },
        },
      },
    },
  },
};
