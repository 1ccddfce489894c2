// Entry for the pipeline integration test: ingestion, datasets, retraining and pipeline endpoints, compiled.
require('../../../dist/functions/ingest.js');
require('../../../dist/functions/datasets.js');
require('../../../dist/functions/retrain.js');
require('../../../dist/functions/pipelines.js');
require('../../../dist/functions/app-lifecycle.js');
