import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config';
import { getLifecycleEvents } from '../shared/lifecycle';
import {
  getModelRegistry,
  ModelNotFoundError,
  RegistryConflictError,
  type Actor,
  type ChampionMove,
} from '../shared/registry';

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}

/** Every registered version with its status, and who holds each alias. */
export async function listModels(): Promise<HttpResponseInit> {
  const registry = getModelRegistry();
  const [models, champion, challenger] = await Promise.all([
    registry.list(),
    registry.alias('champion'),
    registry.alias('challenger'),
  ]);
  return {
    status: 200,
    jsonBody: {
      aliases: { champion: champion?.modelVersion ?? null, challenger: challenger?.modelVersion ?? null },
      models,
    },
  };
}

export async function getModel(request: HttpRequest): Promise<HttpResponseInit> {
  const version = request.params.version ?? '';
  const registry = getModelRegistry();
  const model = await registry.get(version);
  if (model === undefined)
    return { status: 404, jsonBody: errorBody('not-found', `model version '${version}' is not registered`) };
  return { status: 200, jsonBody: { model, history: await registry.history(version) } };
}

/** The audit log: every transition with time, actor, reason and evidence, oldest first. */
export async function modelHistory(request: HttpRequest): Promise<HttpResponseInit> {
  const version = request.query.get('version') ?? undefined;
  return { status: 200, jsonBody: { entries: await getModelRegistry().history(version) } };
}

type TransitionBody = { reason: string; actor: Actor; evidence: Record<string, unknown> };

/**
 * A person's change needs a reason and a name: the name from App Service authentication when present, else the
 * body's `actor`.
 */
async function readTransition(request: HttpRequest): Promise<TransitionBody | HttpResponseInit> {
  let body: unknown;
  try {
    body = JSON.parse((await request.text()) || '{}');
  } catch {
    return { status: 400, jsonBody: errorBody('invalid-body', 'body is not JSON') };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 400, jsonBody: errorBody('invalid-body', 'body must be a JSON object') };
  }
  const { reason, actor, ticket } = body as Record<string, unknown>;
  if (typeof reason !== 'string' || reason.trim().length < 3) {
    return {
      status: 400,
      jsonBody: errorBody('reason-required', 'a reason (at least 3 characters) is required', 'reason'),
    };
  }
  const principal = request.headers.get('x-ms-client-principal-name');
  const name = principal ?? (typeof actor === 'string' && actor.trim() !== '' ? actor.trim() : undefined);
  if (name === undefined) {
    return {
      status: 400,
      jsonBody: errorBody('actor-required', 'name the person making the change', 'actor'),
    };
  }
  return {
    reason: reason.trim(),
    actor: { kind: 'person', id: name },
    evidence: typeof ticket === 'string' ? { ticket } : {},
  };
}

async function transition(
  request: HttpRequest,
  context: InvocationContext,
  move: (version: string, input: TransitionBody) => Promise<ChampionMove>,
): Promise<HttpResponseInit> {
  const input = await readTransition(request);
  if (!('actor' in input)) return input;
  const version = request.params.version ?? '';
  try {
    const result = await move(version, input);
    context.log(`champion is now ${result.champion.modelVersion} (by ${input.actor.id}: ${input.reason})`);
    await announce(result, input, context);
    return { status: 200, jsonBody: result };
  } catch (error: unknown) {
    if (error instanceof ModelNotFoundError)
      return { status: 404, jsonBody: errorBody('not-found', error.message) };
    if (error instanceof RegistryConflictError)
      return { status: 409, jsonBody: errorBody('conflict', error.message) };
    throw error;
  }
}

/** Manual moves go to the lifecycle topic like automatic ones; without Service Bus that is said, not skipped silently. */
async function announce(
  move: ChampionMove,
  input: TransitionBody,
  context: InvocationContext,
): Promise<void> {
  if (getConfig().serviceBus === undefined) {
    context.warn('ServiceBus is not configured: the lifecycle event of this change was not published');
    return;
  }
  await getLifecycleEvents().publish({
    type:
      move.champion.status === 'champion' && move.previous?.status === 'rejected'
        ? 'model.rolled-back'
        : 'model.promoted',
    at: move.champion.statusChangedAt,
    experimentId: null,
    champion: move.champion.modelVersion,
    challenger: null,
    details: {
      actor: input.actor,
      reason: input.reason,
      previous: move.previous?.modelVersion ?? null,
      revision: move.revision,
    },
  });
}

export async function promoteModel(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return transition(request, context, (version, input) => getModelRegistry().promote(version, input));
}

export async function rollbackModel(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return transition(request, context, (version, input) => getModelRegistry().rollback(version, input));
}

app.http('listModels', { methods: ['GET'], authLevel: 'function', route: 'models', handler: listModels });
app.http('modelHistory', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/history',
  handler: modelHistory,
});
app.http('getModel', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{version}',
  handler: getModel,
});
app.http('promoteModel', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'models/{version}/promote',
  handler: promoteModel,
});
app.http('rollbackModel', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'models/{version}/rollback',
  handler: rollbackModel,
});
