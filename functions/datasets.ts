import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getDataset, listDatasets } from '../shared/datasets/service';

/** Every dataset version, newest first, without class distributions. */
export async function datasetsList(_request: HttpRequest): Promise<HttpResponseInit> {
  const datasets = await listDatasets();
  return { status: 200, jsonBody: { datasets }, headers: { 'cache-control': 'no-store' } };
}

/** One dataset version with counts, class distribution and lineage. */
export async function datasetGet(request: HttpRequest): Promise<HttpResponseInit> {
  const version = request.params.version ?? '';
  if (!/^ds-[0-9a-f]{20}$/.test(version)) {
    return {
      status: 400,
      jsonBody: { error: `version: '${version}' is not a dataset version (ds- and 20 hex digits)` },
    };
  }
  const dataset = await getDataset(version);
  if (dataset === undefined)
    return { status: 404, jsonBody: { error: `dataset version ${version} not found` } };
  return { status: 200, jsonBody: dataset, headers: { 'cache-control': 'no-store' } };
}

app.http('datasetsList', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'datasets',
  handler: datasetsList,
});
app.http('datasetGet', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'datasets/{version}',
  handler: datasetGet,
});
