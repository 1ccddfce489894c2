import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import {
  CLASSIFY_LIMITS,
  payloadTooLarge,
  validateClassifyBody,
  validateClassifyQuery,
  type Validation,
  type ClassifyRequest,
} from '../shared/api/classify-request';
import { apiError, callerFrom } from '../shared/api/http';
import { getClassificationService, ModelUnavailableError } from '../shared/inference/service';

async function readRequest(request: HttpRequest): Promise<Validation<ClassifyRequest>> {
  if (request.method === 'GET') return validateClassifyQuery(request.query);
  const declaredLength = Number(request.headers.get('content-length') ?? '0');
  if (declaredLength > CLASSIFY_LIMITS.maxBodyBytes) return payloadTooLarge();
  return validateClassifyBody(request.headers.get('content-type'), await request.text());
}

/** Ranked HS codes with calibrated confidence, decision and explanation for each item; one ONNX batch per call. */
export async function classify(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const validation = await readRequest(request);
  if (!validation.ok) return { status: validation.status, jsonBody: validation.body };
  try {
    const response = await getClassificationService().classify(
      validation.value,
      callerFrom(request.headers, context.invocationId),
    );
    return {
      status: 200,
      jsonBody: response,
      headers: { 'x-model-version': response.modelVersion, 'cache-control': 'no-store' },
    };
  } catch (error: unknown) {
    if (error instanceof ModelUnavailableError) {
      context.error(error.message);
      return {
        status: 503,
        jsonBody: apiError('model-unavailable', error.message),
        headers: { 'retry-after': '30' },
      };
    }
    throw error;
  }
}

app.http('classify', {
  methods: ['GET', 'POST'],
  authLevel: 'function',
  route: 'classify',
  handler: classify,
});
