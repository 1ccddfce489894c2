// Entry for the ingestion integration test: the real compiled ingestion and dataset functions, nothing else.
require('../../../dist/functions/ingest.js');
require('../../../dist/functions/datasets.js');
require('../../../dist/functions/app-lifecycle.js');
