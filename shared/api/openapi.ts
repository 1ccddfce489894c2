/**
 * The OpenAPI 3.0 document of the classification API. Limits come from `CLASSIFY_LIMITS`, the same constants the
 * validator enforces, so the document cannot drift from what the handlers accept (the tests check both ways).
 */
import { CLASSIFY_LIMITS } from './classify-request';

const L = CLASSIFY_LIMITS;

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: [
            'unsupported-media-type',
            'malformed-json',
            'invalid-request',
            'payload-too-large',
            'not-found',
            'model-unavailable',
          ],
        },
        field: { type: 'string', description: 'JSON path of the offending field, e.g. items[3].description' },
        message: { type: 'string' },
        limit: { type: 'number', description: 'The limit that was exceeded, where one applies' },
      },
    },
  },
} as const;

const codeSchema = {
  type: 'object',
  required: ['code', 'description', 'confidence'],
  properties: {
    code: { type: 'string', example: '610910' },
    description: { type: 'string', nullable: true },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
} as const;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'HS code classification API',
      version,
      description:
        'Predicts Harmonized System codes from product descriptions with calibrated confidence, an auto/review ' +
        'decision, an explanation, and an audit record per prediction.',
    },
    servers: [{ url: '/api' }],
    security: [{ functionKey: [] }],
    paths: {
      '/classify': {
        post: {
          operationId: 'classify',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('ClassifyRequest') } },
          },
          responses: {
            '200': {
              description: 'One result per item, in request order',
              headers: { 'x-model-version': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('ClassifyResponse') } },
            },
            '400': errorResponse('Invalid request; `field` names the offending field and `limit` the limit'),
            '413': errorResponse(`Body over ${L.maxBodyBytes} bytes`),
            '415': errorResponse('Content type is not application/json'),
            '503': errorResponse('No model can serve'),
          },
        },
        get: {
          operationId: 'classifyOne',
          parameters: [
            {
              name: 'description',
              in: 'query',
              required: true,
              schema: { type: 'string', minLength: 1, maxLength: L.maxDescriptionChars },
            },
            {
              name: 'topK',
              in: 'query',
              schema: { type: 'integer', minimum: L.minTopK, maximum: L.maxTopK, default: L.defaultTopK },
            },
            { name: 'explain', in: 'query', schema: { type: 'boolean', default: true } },
          ],
          responses: {
            '200': {
              description: 'One result',
              headers: { 'x-model-version': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('ClassifyResponse') } },
            },
            '400': errorResponse('Invalid query'),
            '503': errorResponse('No model can serve'),
          },
        },
      },
      '/predictions/{id}': {
        get: {
          operationId: 'getPrediction',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: {
            '200': {
              description: 'The audit record',
              content: { 'application/json': { schema: ref('PredictionRecord') } },
            },
            '400': errorResponse('Not a prediction id'),
            '404': errorResponse('Unknown prediction'),
          },
        },
      },
      '/predictions/{id}/replay': {
        post: {
          operationId: 'replayPrediction',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: {
            '200': {
              description: 'The recorded and the replayed answer, and whether they are identical',
              content: { 'application/json': { schema: ref('ReplayResult') } },
            },
            '400': errorResponse('Not a prediction id'),
            '404': errorResponse('Unknown prediction'),
            '503': errorResponse('The recorded model version is not available'),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
      },
      schemas: {
        Error: errorSchema,
        ClassifyRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              minItems: 1,
              maxItems: L.maxItems,
              items: ref('ClassifyItem'),
            },
            topK: { type: 'integer', minimum: L.minTopK, maximum: L.maxTopK, default: L.defaultTopK },
            explain: { type: 'boolean', default: true },
          },
          example: { items: [{ id: 'line-1', description: 'Cotton T-shirt, knitted, size M' }], topK: 3 },
        },
        ClassifyItem: {
          type: 'object',
          additionalProperties: false,
          required: ['description'],
          properties: {
            id: {
              type: 'string',
              minLength: 1,
              maxLength: L.maxIdChars,
              description: 'Caller id of the item, unique within the request',
            },
            description: {
              type: 'string',
              minLength: 1,
              maxLength: L.maxDescriptionChars,
              pattern: '\\S',
              description: 'Product description; must contain a non-whitespace character',
            },
            context: {
              type: 'object',
              additionalProperties: true,
              description: `Free-form context kept in the audit record (at most ${L.maxContextChars} characters as JSON)`,
            },
          },
        },
        RankedCode: codeSchema,
        ClassifiedItem: {
          type: 'object',
          required: [
            'id',
            'predictionId',
            'arm',
            'modelVersion',
            'codes',
            'heading',
            'chapter',
            'decision',
            'explanation',
          ],
          properties: {
            id: { type: 'string', nullable: true },
            predictionId: { type: 'string', format: 'uuid' },
            arm: { type: 'string', enum: ['champion', 'challenger'] },
            modelVersion: { type: 'string' },
            codes: { type: 'array', items: ref('RankedCode') },
            heading: ref('RankedCode'),
            chapter: ref('RankedCode'),
            decision: {
              type: 'object',
              required: ['outcome', 'reason', 'threshold', 'headingThreshold'],
              properties: {
                outcome: { type: 'string', enum: ['auto', 'review'] },
                reason: { type: 'string', enum: ['confident', 'heading-sure', 'uncertain', 'unlisted-code'] },
                threshold: { type: 'number' },
                headingThreshold: { type: 'number' },
              },
            },
            explanation: {
              type: 'object',
              nullable: true,
              properties: {
                method: { type: 'string', enum: ['occlusion'] },
                code: { type: 'string' },
                tokens: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { token: { type: 'string' }, weight: { type: 'number' } },
                  },
                },
              },
            },
          },
        },
        ClassifyResponse: {
          type: 'object',
          required: ['modelVersion', 'arm', 'experimentId', 'items', 'timings'],
          properties: {
            modelVersion: {
              type: 'string',
              description: 'the version that answered; comma-separated when a split sent items to both arms',
            },
            arm: { type: 'string', enum: ['champion', 'challenger', 'mixed'] },
            experimentId: { type: 'string', nullable: true },
            items: { type: 'array', items: ref('ClassifiedItem') },
            timings: {
              type: 'object',
              properties: {
                encodeMs: { type: 'number' },
                inferenceMs: { type: 'number' },
                postprocessMs: { type: 'number' },
                totalMs: { type: 'number' },
              },
            },
          },
        },
        PredictionRecord: {
          type: 'object',
          required: [
            'id',
            'createdAt',
            'inputHash',
            'normalizedText',
            'modelVersion',
            'packageHash',
            'arm',
            'codes',
          ],
          properties: {
            id: {
              type: 'string',
              description: 'the prediction id (a uuid); <uuid>:shadow for a shadow score',
            },
            createdAt: { type: 'string', format: 'date-time' },
            caller: { type: 'object' },
            itemId: { type: 'string', nullable: true },
            inputHash: { type: 'string', description: 'sha256 of the description as received' },
            normalizedText: { type: 'string' },
            modelVersion: { type: 'string' },
            packageHash: { type: 'string' },
            arm: { type: 'string' },
            experimentId: { type: 'string', nullable: true },
            codes: { type: 'array', items: ref('RankedCode') },
            decision: { type: 'object' },
            explanation: { type: 'object', nullable: true },
            latency: { type: 'object' },
          },
        },
        ReplayResult: {
          type: 'object',
          required: ['predictionId', 'modelVersion', 'identical', 'differences'],
          properties: {
            predictionId: { type: 'string' },
            modelVersion: { type: 'string' },
            identical: { type: 'boolean' },
            differences: { type: 'array', items: { type: 'string' } },
            recorded: { type: 'object' },
            replayed: { type: 'object' },
          },
        },
      },
    },
  };
}
