// Entry for the serving-experiments integration test: classification with the registry, feedback and experiments.
require('../../../functions/classify');
require('../../../functions/predictions');
require('../../../functions/models');
require('../../../functions/feedback');
require('../../../functions/experiments');
require('../../../functions/app-lifecycle');
