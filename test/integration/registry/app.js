// Entry for the registry integration test: the real registry, feedback and experiment functions, nothing else.
require('../../../functions/models');
require('../../../functions/feedback');
require('../../../functions/experiments');
require('../../../functions/app-lifecycle');
