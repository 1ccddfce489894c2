import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { openApiDocument } from '../shared/api/openapi';
import { getConfig } from '../shared/config';

/** The API description, for integrators' client generators; public like any API reference. */
export async function openapi(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: openApiDocument(getConfig().appVersion) };
}

app.http('openapi', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'openapi.json',
  handler: openapi,
});
