// Entry for the pipeline restart e2e test: everything a dataset goes through, plus serving, audit and health.
require('../../dist/functions/ingest.js');
require('../../dist/functions/datasets.js');
require('../../dist/functions/retrain.js');
require('../../dist/functions/retrain-schedule.js');
require('../../dist/functions/pipelines.js');
require('../../dist/functions/classify.js');
require('../../dist/functions/predictions.js');
require('../../dist/functions/health.js');
require('../../dist/functions/app-lifecycle.js');
