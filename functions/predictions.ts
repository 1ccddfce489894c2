import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { apiError } from '../shared/api/http';
import { getClassificationService, ModelUnavailableError } from '../shared/inference/service';

const PREDICTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function badId(id: string | undefined): HttpResponseInit | undefined {
  if (id !== undefined && PREDICTION_ID.test(id)) return undefined;
  return { status: 400, jsonBody: apiError('invalid-request', 'id must be a prediction id (a UUID)', 'id') };
}

function notFound(id: string): HttpResponseInit {
  return { status: 404, jsonBody: apiError('not-found', `no prediction ${id}`, 'id') };
}

/** The audit record of one prediction, for auditors and for feedback joins. */
export async function getPrediction(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id;
  const invalid = badId(id);
  if (invalid !== undefined || id === undefined) return invalid ?? notFound('');
  const record = await getClassificationService().record(id);
  return record === undefined ? notFound(id) : { status: 200, jsonBody: record };
}

/** Re-runs a prediction on its recorded model version and reports whether the answer is identical. */
export async function replayPrediction(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id;
  const invalid = badId(id);
  if (invalid !== undefined || id === undefined) return invalid ?? notFound('');
  try {
    const result = await getClassificationService().replay(id);
    return result === undefined
      ? notFound(id)
      : { status: 200, jsonBody: result, headers: { 'x-model-version': result.modelVersion } };
  } catch (error: unknown) {
    if (error instanceof ModelUnavailableError) {
      return { status: 503, jsonBody: apiError('model-unavailable', error.message) };
    }
    throw error;
  }
}

app.http('getPrediction', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'predictions/{id}',
  handler: getPrediction,
});

app.http('replayPrediction', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'predictions/{id}/replay',
  handler: replayPrediction,
});
