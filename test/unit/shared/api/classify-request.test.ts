import fc from 'fast-check';
import {
  CLASSIFY_LIMITS,
  validateClassifyBody,
  validateClassifyQuery,
  validateClassifyValue,
} from '../../../../shared/api/classify-request';
import { openApiDocument } from '../../../../shared/api/openapi';

const JSON_TYPE = 'application/json; charset=utf-8';

describe('classify request validation', () => {
  it('accepts a full valid body and fills the defaults', () => {
    const result = validateClassifyBody(
      JSON_TYPE,
      JSON.stringify({ items: [{ id: 'a', description: 'cotton shirt', context: { po: 1 } }] }),
    );
    expect(result).toEqual({
      ok: true,
      value: {
        items: [{ id: 'a', description: 'cotton shirt', context: { po: 1 } }],
        topK: CLASSIFY_LIMITS.defaultTopK,
        explain: true,
      },
    });
  });

  it('rejects content types, JSON and fields with the status, field and limit', () => {
    expect(validateClassifyBody('text/plain', '{}')).toMatchObject({ ok: false, status: 415 });
    expect(validateClassifyBody(null, '{}')).toMatchObject({ ok: false, status: 415 });
    expect(validateClassifyBody(JSON_TYPE, '{')).toMatchObject({
      ok: false,
      status: 400,
      body: { error: { code: 'malformed-json' } },
    });
    expect(
      validateClassifyValue({
        items: [{ description: 'a' }, { id: 'x', description: 'b' }, { id: 'x', description: 'c' }],
      }),
    ).toMatchObject({
      ok: false,
      body: { error: { field: 'items[2].id' } },
    });
    expect(validateClassifyValue({ items: [{ description: 'a', context: [1] }] })).toMatchObject({
      body: { error: { field: 'items[0].context' } },
    });
    expect(validateClassifyValue({ items: [{ description: 'a' }], explain: 'yes' })).toMatchObject({
      body: { error: { field: 'explain' } },
    });
    const long = 'x'.repeat(CLASSIFY_LIMITS.maxDescriptionChars);
    expect(validateClassifyValue({ items: [{ description: long }] }).ok).toBe(true);
    expect(validateClassifyValue({ items: [{ description: long + 'x' }] })).toMatchObject({
      body: { error: { field: 'items[0].description', limit: CLASSIFY_LIMITS.maxDescriptionChars } },
    });
  });

  it('validates the GET query', () => {
    expect(validateClassifyQuery(new URLSearchParams('description=laptop&topK=3&explain=false'))).toEqual({
      ok: true,
      value: {
        items: [{ id: undefined, description: 'laptop', context: undefined }],
        topK: 3,
        explain: false,
      },
    });
    expect(validateClassifyQuery(new URLSearchParams('topK=3'))).toMatchObject({
      body: { error: { field: 'description' } },
    });
    expect(validateClassifyQuery(new URLSearchParams('description=a&topK=x'))).toMatchObject({
      body: { error: { field: 'topK' } },
    });
    expect(validateClassifyQuery(new URLSearchParams('description=a&x=1'))).toMatchObject({
      body: { error: { field: 'x' } },
    });
  });

  it('never throws, and every rejection is a 4xx naming a message (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        fc.constantFrom(JSON_TYPE, 'text/plain', null),
        (text, type) => {
          const result = validateClassifyBody(type, text);
          if (!result.ok) {
            expect(result.status).toBeGreaterThanOrEqual(400);
            expect(result.status).toBeLessThan(500);
            expect(result.body.error.message.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2000, seed: 1 },
    );
  });
});

describe('the OpenAPI document matches the validator', () => {
  const doc = openApiDocument('1.0.0') as {
    paths: Record<string, Record<string, unknown>>;
    components: {
      schemas: Record<
        string,
        {
          properties: Record<string, Record<string, unknown>>;
          additionalProperties?: boolean;
          required?: string[];
        }
      >;
    };
  };
  const request = doc.components.schemas.ClassifyRequest!;
  const item = doc.components.schemas.ClassifyItem!;

  it('states the limits the validator enforces, at the boundary', () => {
    const maxItems = request.properties.items!.maxItems as number;
    const maxLength = item.properties.description!.maxLength as number;
    const { minimum, maximum } = request.properties.topK as { minimum: number; maximum: number };
    const items = (n: number) => Array.from({ length: n }, () => ({ description: 'a' }));
    expect(validateClassifyValue({ items: items(maxItems) }).ok).toBe(true);
    expect(validateClassifyValue({ items: items(maxItems + 1) }).ok).toBe(false);
    expect(validateClassifyValue({ items: [{ description: 'y'.repeat(maxLength) }] }).ok).toBe(true);
    expect(validateClassifyValue({ items: [{ description: 'y'.repeat(maxLength + 1) }] }).ok).toBe(false);
    for (const topK of [minimum, maximum])
      expect(validateClassifyValue({ items: items(1), topK }).ok).toBe(true);
    for (const topK of [minimum - 1, maximum + 1])
      expect(validateClassifyValue({ items: items(1), topK }).ok).toBe(false);
  });

  it('lists exactly the fields the validator accepts, and closes both objects', () => {
    expect(request.additionalProperties).toBe(false);
    expect(item.additionalProperties).toBe(false);
    for (const field of Object.keys(request.properties)) {
      const body: Record<string, unknown> = { items: [{ description: 'a' }] };
      if (field === 'topK') body.topK = 2;
      if (field === 'explain') body.explain = false;
      expect(validateClassifyValue(body).ok).toBe(true);
    }
    expect(request.required).toEqual(['items']);
    expect(item.required).toEqual(['description']);
    const itemValue = { id: 'a', description: 'b', context: {} };
    expect(Object.keys(item.properties).sort()).toEqual(Object.keys(itemValue).sort());
    expect(validateClassifyValue({ items: [itemValue] }).ok).toBe(true);
    expect(validateClassifyValue({ items: [{ ...itemValue, other: 1 }] }).ok).toBe(false);
  });

  it('has a request example the validator accepts and every $ref resolves', () => {
    expect(validateClassifyValue((request as unknown as { example: unknown }).example).ok).toBe(true);
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) expect(doc.components.schemas[ref.split('/').pop()!]).toBeDefined();
    expect(Object.keys(doc.paths.classify ?? doc.paths['/classify']!).sort()).toEqual(['get', 'post']);
  });
});
