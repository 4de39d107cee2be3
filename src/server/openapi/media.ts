import { CONTENT_TYPE_SCHEMA } from '../../media/routes.ts';
import { BODY_ERROR_STATUSES, errorRefs, json, paramRef } from './common.ts';
import { componentRef } from './json-schema.ts';
import type { ApiFeature, JsonSchema, Parameter, Response } from './types.ts';

// Media: presigned uploads, their upload endpoint, retrieval, and signed links: src/media/routes.ts,
// explained in docs/media.md.

const mediaId: Parameter = { name: 'mediaId', in: 'path', required: true, description: 'The media: the last segment of its `mediaUrl`.', schema: { type: 'string', format: 'uuid' } };
const workspaceIdPublic: Parameter = { name: 'workspaceId', in: 'path', required: true, description: 'The workspace the media belongs to.', schema: { type: 'string', format: 'uuid' } };

const schemas: Record<string, JsonSchema> = {
  CreatePresignedUpload: {
    type: 'object',
    additionalProperties: false,
    required: ['contentType'],
    properties: { contentType: { ...CONTENT_TYPE_SCHEMA, description: 'The MIME type of the file that will be uploaded; the upload must declare exactly this `Content-Type`.' } },
  },
  PresignedUpload: {
    type: 'object',
    additionalProperties: false,
    required: ['mediaUrl', 'uploadUrl', 'uploadMethod', 'uploadFormData'],
    properties: {
      mediaUrl: { type: 'string', format: 'uri', description: 'The URL to put in message bodies (image, file, gif, attachments, carousel and list items) once the file is uploaded.' },
      uploadUrl: { type: 'string', format: 'uri', description: 'Where to POST the file: Aviary\'s `/media` with local storage, the bucket with S3 storage.' },
      uploadMethod: { const: 'POST' },
      uploadFormData: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description:
          'Form fields to send, every one of them and unchanged, before the field `file`. They carry the signed policy: expiry, exact Content-Type, size limit (100 MiB by default), object key, workspace and channel.',
      },
    },
  },
};

const EXAMPLE_CONTENT_TYPE = { contentType: 'image/png' };

const mediaResponse: Response = {
  description: 'The file, with its `Content-Type` and `Content-Length`. Active content (HTML, SVG, XML, scripts) is served as an attachment.',
  content: { 'application/octet-stream': { schema: { type: 'string', contentEncoding: 'binary' } } },
};

const presignResponses = {
  '200': { description: 'The presigned upload.', content: json(componentRef('PresignedUpload')) },
  ...errorRefs(...BODY_ERROR_STATUSES),
};

const retrieveResponses = { '200': mediaResponse, ...errorRefs(409) };

const UPLOAD_CURL = `curl -X POST "$UPLOAD_URL" \\
  -F Content-Type='image/png' \\
  -F key="$KEY" \\
  -F x-aviary-meta-workspace-id="$WORKSPACE_ID" \\
  -F policy="$POLICY" \\
  -F x-aviary-signature="$SIGNATURE" \\
  -F file=@picture.png`;

export const mediaFeature: ApiFeature = {
  tag: {
    name: 'Media',
    description:
      'Presigned uploads of media to send in messages, and retrieval of uploaded media and of media received in incoming messages. ' +
      'Uploads take no access key: the signed form fields are the credential.',
  },
  schemas,
  workspacePaths: {
    '/channel-media/presigned-upload': {
      post: {
        operationId: 'createPresignedUpload',
        summary: 'Create a presigned media upload',
        description: 'An upload whose `mediaUrl` can be sent on any channel of the workspace. POST the file to `uploadUrl` with the fields of `uploadFormData`, then send `mediaUrl` in a message.',
        tags: ['Media'],
        requestBody: { required: true, content: json(componentRef('CreatePresignedUpload'), EXAMPLE_CONTENT_TYPE) },
        responses: presignResponses,
      },
    },
    '/channels/{channelId}/presigned-upload': {
      parameters: [paramRef('channelId')],
      post: {
        operationId: 'createChannelPresignedUpload',
        summary: 'Create a presigned media upload for a channel',
        description: 'Like the workspace upload, but its `mediaUrl` can only be sent on this channel (422 elsewhere).',
        tags: ['Media'],
        requestBody: { required: true, content: json(componentRef('CreatePresignedUpload'), EXAMPLE_CONTENT_TYPE) },
        responses: presignResponses,
      },
    },
    '/channel-media/{mediaId}': {
      parameters: [mediaId],
      get: {
        operationId: 'getUploadedMedia',
        summary: 'Get uploaded media',
        description: 'The file of a workspace upload (its `mediaUrl`). 409 while it has not been uploaded.',
        tags: ['Media'],
        responses: retrieveResponses,
      },
    },
    '/channels/{channelId}/media/{mediaId}': {
      parameters: [paramRef('channelId'), mediaId],
      get: {
        operationId: 'getChannelUploadedMedia',
        summary: 'Get uploaded media of a channel',
        description: 'The file of a channel-bound upload (its `mediaUrl`). 409 while it has not been uploaded.',
        tags: ['Media'],
        responses: retrieveResponses,
      },
    },
    '/messages/{messageId}/media/{mediaId}': {
      parameters: [paramRef('messageId'), mediaId],
      get: {
        operationId: 'getMessageMedia',
        summary: 'Get media of an incoming message',
        description: 'A file received in an incoming message, stored by Aviary when the message arrived: it stays available after the provider\'s own link expires.',
        tags: ['Media'],
        responses: retrieveResponses,
      },
    },
  },
  paths: {
    '/media': {
      post: {
        operationId: 'uploadMedia',
        summary: 'Upload a file to a presigned upload',
        description:
          'The `uploadUrl` of a presigned upload when media are stored locally (with S3 storage, `uploadUrl` is the bucket and the file never passes through Aviary). ' +
          'A `multipart/form-data` body: every field of `uploadFormData` unchanged, then the file as `file`. No access key. ' +
          'Refused, storing nothing: a missing, changed or expired policy, another Content-Type or extra fields (403 `AccessDenied`), a file over the limit (413 `EntityTooLarge`), ' +
          'no file or an empty one (400), a policy already used (409).',
        tags: ['Media'],
        security: [],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['policy', 'x-aviary-signature', 'key', 'Content-Type', 'file'],
                properties: {
                  'Content-Type': { type: 'string' },
                  key: { type: 'string' },
                  'x-aviary-meta-workspace-id': { type: 'string' },
                  'x-aviary-meta-channel-id': { type: 'string' },
                  policy: { type: 'string' },
                  'x-aviary-signature': { type: 'string' },
                  file: { type: 'string', contentEncoding: 'binary' },
                },
              },
            },
          },
        },
        responses: { '204': { description: 'Stored.' }, ...errorRefs(400, 403, 404, 409, 413, 415) },
        'x-codeSamples': [{ lang: 'Shell', label: 'curl', source: UPLOAD_CURL }],
      },
    },
    '/media/{workspaceId}/{mediaId}': {
      parameters: [workspaceIdPublic, mediaId],
      get: {
        operationId: 'getSignedMedia',
        summary: 'Get media by signed link',
        description: 'A signed, expiring link to stored media, as Aviary hands to providers that download media themselves. No access key: the signature is the credential.',
        tags: ['Media'],
        security: [],
        parameters: [
          { name: 'expires', in: 'query', required: true, description: 'Unix time the link expires at.', schema: { type: 'integer' } },
          { name: 'signature', in: 'query', required: true, description: 'The link\'s signature.', schema: { type: 'string' } },
        ],
        responses: { '200': mediaResponse, ...errorRefs(403, 404, 409) },
      },
    },
  },
};
