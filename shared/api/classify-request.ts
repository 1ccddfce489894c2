/**
 * Validation of classification requests. Every rejection is a value (never a throw) naming the field and, where
 * one applies, the limit, so a caller can fix the request without reading our code. The limits are part of the
 * API contract and appear in the OpenAPI document.
 */

export const CLASSIFY_LIMITS = Object.freeze({
  /** Items per request: one ONNX batch of this many stays well under a second on 2 cores. */
  maxItems: 1000,
  /** Characters per description; real declaration lines are far shorter (median five words). */
  maxDescriptionChars: 1000,
  /** Characters of a caller-chosen item id. */
  maxIdChars: 128,
  /** Serialised size of an item's free-form context, in characters. */
  maxContextChars: 4096,
  minTopK: 1,
  maxTopK: 20,
  defaultTopK: 5,
  /** Request body size, in bytes (1,000 items of 1,000 characters plus JSON overhead). */
  maxBodyBytes: 2_000_000,
});

export interface ClassifyItemInput {
  readonly id: string | undefined;
  readonly description: string;
  readonly context: Readonly<Record<string, unknown>> | undefined;
}

export interface ClassifyRequest {
  readonly items: readonly ClassifyItemInput[];
  readonly topK: number;
  readonly explain: boolean;
}

export interface ApiError {
  readonly error: {
    readonly code:
      | 'unsupported-media-type'
      | 'malformed-json'
      | 'invalid-request'
      | 'payload-too-large'
      | 'not-found'
      | 'model-unavailable';
    /** JSON path of the offending field, e.g. `items[3].description`; absent for body-level problems. */
    readonly field?: string;
    readonly message: string;
    /** The limit that was exceeded, where one applies. */
    readonly limit?: number;
  };
}

export type Validation<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly status: 400 | 413 | 415; readonly body: ApiError };

const ITEM_FIELDS = new Set(['id', 'description', 'context']);
const BODY_FIELDS = new Set(['items', 'topK', 'explain']);

function invalid(field: string | undefined, message: string, limit?: number): Validation<never> {
  return {
    ok: false,
    status: 400,
    body: {
      error: {
        code: 'invalid-request',
        ...(field === undefined ? {} : { field }),
        message,
        ...(limit === undefined ? {} : { limit }),
      },
    },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `application/json`, optionally with parameters (`; charset=utf-8`). */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  if (contentType === null || contentType === undefined) return false;
  const [type] = contentType.split(';');
  return type?.trim().toLowerCase() === 'application/json';
}

/** Validates one description wherever it came from (body item or query string). */
export function validateDescription(value: unknown, field: string): Validation<string> {
  if (value === undefined) return invalid(field, `${field} is required`);
  if (typeof value !== 'string') return invalid(field, `${field} must be a string, got ${typeName(value)}`);
  if (value.trim() === '') return invalid(field, `${field} must contain text, not only whitespace`);
  if (value.length > CLASSIFY_LIMITS.maxDescriptionChars) {
    return invalid(
      field,
      `${field} has ${value.length} characters; the limit is ${CLASSIFY_LIMITS.maxDescriptionChars}`,
      CLASSIFY_LIMITS.maxDescriptionChars,
    );
  }
  return { ok: true, value };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function validateTopK(value: unknown, field = 'topK'): Validation<number> {
  if (value === undefined) return { ok: true, value: CLASSIFY_LIMITS.defaultTopK };
  const { minTopK, maxTopK } = CLASSIFY_LIMITS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minTopK || value > maxTopK) {
    return invalid(
      field,
      `${field} must be an integer from ${minTopK} to ${maxTopK}, got ${JSON.stringify(value)}`,
      value === undefined || (typeof value === 'number' && value < minTopK) ? minTopK : maxTopK,
    );
  }
  return { ok: true, value };
}

/** Validates a POST body given its content type and raw text. */
export function validateClassifyBody(contentType: string | null, text: string): Validation<ClassifyRequest> {
  if (!isJsonContentType(contentType)) {
    return {
      ok: false,
      status: 415,
      body: {
        error: {
          code: 'unsupported-media-type',
          field: 'content-type',
          message: `content-type must be application/json, got ${contentType === null ? 'none' : `'${contentType}'`}`,
        },
      },
    };
  }
  if (Buffer.byteLength(text, 'utf8') > CLASSIFY_LIMITS.maxBodyBytes) {
    return payloadTooLarge();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error: unknown) {
    return {
      ok: false,
      status: 400,
      body: {
        error: {
          code: 'malformed-json',
          message: `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        },
      },
    };
  }
  return validateClassifyValue(parsed);
}

/** Validates an already parsed body. */
export function validateClassifyValue(body: unknown): Validation<ClassifyRequest> {
  if (!isPlainObject(body))
    return invalid(undefined, `the body must be a JSON object, got ${typeName(body)}`);
  for (const key of Object.keys(body)) {
    if (!BODY_FIELDS.has(key)) {
      return invalid(key, `unknown field '${key}'; allowed: ${[...BODY_FIELDS].join(', ')}`);
    }
  }
  const topK = validateTopK(body.topK);
  if (!topK.ok) return topK;
  if (body.explain !== undefined && typeof body.explain !== 'boolean') {
    return invalid('explain', `explain must be a boolean, got ${typeName(body.explain)}`);
  }
  const items = body.items;
  if (items === undefined) return invalid('items', 'items is required');
  if (!Array.isArray(items)) return invalid('items', `items must be an array, got ${typeName(items)}`);
  if (items.length === 0) return invalid('items', 'items must hold at least 1 item', 1);
  if (items.length > CLASSIFY_LIMITS.maxItems) {
    return invalid(
      'items',
      `items has ${items.length} entries; the limit is ${CLASSIFY_LIMITS.maxItems}`,
      CLASSIFY_LIMITS.maxItems,
    );
  }
  const validated: ClassifyItemInput[] = [];
  const ids = new Set<string>();
  for (const [index, item] of (items as unknown[]).entries()) {
    const path = `items[${index}]`;
    if (!isPlainObject(item)) return invalid(path, `${path} must be an object, got ${typeName(item)}`);
    for (const key of Object.keys(item)) {
      if (!ITEM_FIELDS.has(key)) {
        return invalid(`${path}.${key}`, `unknown field '${key}'; allowed: ${[...ITEM_FIELDS].join(', ')}`);
      }
    }
    const description = validateDescription(item.description, `${path}.description`);
    if (!description.ok) return description;
    let id: string | undefined;
    if (item.id !== undefined) {
      if (
        typeof item.id !== 'string' ||
        item.id.length === 0 ||
        item.id.length > CLASSIFY_LIMITS.maxIdChars
      ) {
        return invalid(
          `${path}.id`,
          `${path}.id must be a string of 1 to ${CLASSIFY_LIMITS.maxIdChars} characters`,
          CLASSIFY_LIMITS.maxIdChars,
        );
      }
      if (ids.has(item.id))
        return invalid(`${path}.id`, `${path}.id '${item.id}' is used by an earlier item`);
      ids.add(item.id);
      id = item.id;
    }
    let context: Record<string, unknown> | undefined;
    if (item.context !== undefined) {
      if (!isPlainObject(item.context)) {
        return invalid(`${path}.context`, `${path}.context must be an object, got ${typeName(item.context)}`);
      }
      if (JSON.stringify(item.context).length > CLASSIFY_LIMITS.maxContextChars) {
        return invalid(
          `${path}.context`,
          `${path}.context exceeds ${CLASSIFY_LIMITS.maxContextChars} characters as JSON`,
          CLASSIFY_LIMITS.maxContextChars,
        );
      }
      context = item.context;
    }
    validated.push({ id, description: description.value, context });
  }
  return { ok: true, value: { items: validated, topK: topK.value, explain: body.explain ?? true } };
}

/** Validates `GET /api/classify?description=...&topK=...`. */
export function validateClassifyQuery(query: URLSearchParams): Validation<ClassifyRequest> {
  for (const key of query.keys()) {
    if (key !== 'description' && key !== 'topK' && key !== 'explain' && key !== 'code') {
      return invalid(key, `unknown query parameter '${key}'; allowed: description, topK, explain`);
    }
  }
  const description = validateDescription(query.get('description') ?? undefined, 'description');
  if (!description.ok) return description;
  const rawTopK = query.get('topK');
  const topK = validateTopK(
    rawTopK === null ? undefined : /^\d{1,3}$/.test(rawTopK) ? Number(rawTopK) : rawTopK,
  );
  if (!topK.ok) return topK;
  const rawExplain = query.get('explain');
  if (rawExplain !== null && rawExplain !== 'true' && rawExplain !== 'false') {
    return invalid('explain', `explain must be 'true' or 'false', got '${rawExplain}'`);
  }
  return {
    ok: true,
    value: {
      items: [{ id: undefined, description: description.value, context: undefined }],
      topK: topK.value,
      explain: rawExplain !== 'false',
    },
  };
}

/** 413 for a body over `CLASSIFY_LIMITS.maxBodyBytes`: checked on the declared length first, then on the text. */
export function payloadTooLarge(): Validation<never> {
  return {
    ok: false,
    status: 413,
    body: {
      error: {
        code: 'payload-too-large',
        message: `the body exceeds ${CLASSIFY_LIMITS.maxBodyBytes} bytes`,
        limit: CLASSIFY_LIMITS.maxBodyBytes,
      },
    },
  };
}
