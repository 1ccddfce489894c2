import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getPipelineStore } from '../shared/pipelines/records';

/** Pipeline runs, newest first (records only, without live progress). */
export async function pipelinesList(_request: HttpRequest): Promise<HttpResponseInit> {
  const pipelines = await getPipelineStore().list();
  return { status: 200, jsonBody: { pipelines }, headers: { 'cache-control': 'no-store' } };
}

/**
 * One pipeline: its record, the orchestration's runtime and custom status (stage, candidates, gate), and each
 * candidate's live progress (stage, epoch, loss, validation accuracy) as its training activity reports it.
 */
export async function pipelineGet(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    return { status: 400, jsonBody: { error: `id: '${id}' is not a pipeline id` } };
  }
  const store = getPipelineStore();
  const [record, progress, orchestration] = await Promise.all([
    store.get(id),
    store.progress(id),
    client.getStatus(id).catch((error: unknown) => {
      if (error instanceof Error && /HTTP 404/.test(error.message)) return undefined;
      throw error;
    }),
  ]);
  if (record === undefined && orchestration === undefined) {
    return { status: 404, jsonBody: { error: `pipeline ${id} not found` } };
  }
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: orchestration?.runtimeStatus ?? null,
      customStatus: orchestration?.customStatus ?? null,
      record: record ?? null,
      progress,
    },
    headers: { 'cache-control': 'no-store' },
  };
}

app.http('pipelinesList', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'pipelines',
  handler: pipelinesList,
});
df.app.client.http('pipelineGet', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'pipelines/{id}',
  handler: pipelineGet,
});
