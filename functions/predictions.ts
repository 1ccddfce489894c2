import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { apiError } from '../shared/api/http';
import { getClassificationService, ModelUnavailableError } from '../shared/inference/service';

const PREDICTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The route's prediction id, or the 400 answer for a malformed one. */
function predictionIdOf(request: HttpRequest): string | HttpResponseInit {
  const id = request.params.id;
  if (id !== undefined && PREDICTION_ID.test(id)) return id;
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
  const id = predictionIdOf(request);
  if (typeof id !== 'string') return id;
  const record = await getClassificationService().record(id);
  return record === undefined ? notFound(id) : { status: 200, jsonBody: record };
}

/** Re-runs a prediction on its recorded model version and reports whether the answer is identical. */
export async function replayPrediction(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = predictionIdOf(request);
  if (typeof id !== 'string') return id;
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
