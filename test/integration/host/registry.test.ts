import { app } from '@azure/functions';
import * as path from 'path';
import { FunctionRegistry } from '../../../local/host/registry';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const entry = path.join(__dirname, '../../fixtures/apps/basic/index.js');

describe('FunctionRegistry', () => {
  const logs: string[] = [];
  const registry = FunctionRegistry.load({ entry }, (level, msg) => logs.push(`${level} ${msg}`));

  it('indexes the registrations with their trigger and bindings', () => {
    expect(registry.list().map((f) => f.name)).toEqual([
      'getModel',
      'echo',
      'hello',
      'fails',
      'withClient',
      'onQueue',
    ]);
    const getModel = registry.get('getmodel')!;
    expect(getModel.trigger).toMatchObject({
      type: 'httpTrigger',
      route: 'models/{version}',
      authLevel: 'function',
    });
    expect(getModel.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
    expect(registry.byTriggerType('queueTrigger').map((f) => f.name)).toEqual(['onQueue']);
  });

  it('invokes an http function through the real HttpRequest and returns the rpc http response', async () => {
    const result = await registry.invoke('getModel', {
      triggerData: {
        http: {
          method: 'GET',
          url: 'http://localhost/api/models/v3?q=x',
          headers: {},
          params: { version: 'v3' },
          query: { q: 'x' },
        },
      },
    });
    const http = result.returnValue as { statusCode: string; body: { bytes: Uint8Array } };
    expect(http.statusCode).toBe('200');
    expect(JSON.parse(Buffer.from(http.body.bytes).toString())).toEqual({
      version: 'v3',
      functionName: 'getModel',
      q: 'x',
    });
  });

  it('passes trigger metadata, returns extra outputs and hands them to the output handler', async () => {
    const req = {
      triggerData: { string: '{"a":1}' },
      triggerMetadata: { DequeueCount: { int: 2 }, Id: { string: 'm1' } },
    };
    await expect(registry.invoke('onQueue', req)).rejects.toThrow(/output binding "copy" of type "queue"/);

    const delivered: unknown[] = [];
    registry.addOutputHandler('queue', async (binding, value) => {
      delivered.push({ name: binding.name, queueName: binding.queueName, value });
    });
    const result = await registry.invoke('onQueue', req);
    expect(result.outputData).toEqual({ copy: { seen: { a: 1 } } });
    expect(delivered).toEqual([{ name: 'copy', queueName: 'copies', value: { seen: { a: 1 } } }]);
    expect((globalThis as any).hostFixtureCalls.at(-1)).toEqual({
      name: 'onQueue',
      value: { message: { a: 1 }, dequeueCount: 2, id: 'm1' },
    });
  });

  it('runs pre- and post-invocation hooks around the handler, as the worker does', async () => {
    const seen: string[] = [];
    const pre = app.hook.preInvocation((ctx) => {
      seen.push(`pre ${ctx.invocationContext.functionName}`);
      if (ctx.invocationContext.functionName === 'onQueue') ctx.inputs = [{ replaced: true }];
    });
    const post = app.hook.postInvocation((ctx) => {
      seen.push(
        `post ${ctx.invocationContext.functionName} ${ctx.error instanceof Error ? ctx.error.message : 'ok'}`,
      );
      if (ctx.error) {
        ctx.error = null;
        ctx.result = { status: 202, body: 'rescued' };
      }
    });
    try {
      await registry.invoke('onQueue', { triggerData: { string: 'ignored' } });
      expect((globalThis as any).hostFixtureCalls.at(-1).value.message).toEqual({ replaced: true });
      const rescued = await registry.invoke('fails', {
        triggerData: { http: { method: 'GET', url: 'http://localhost/api/fails' } },
      });
      const http = rescued.returnValue as { statusCode: string; body: { bytes: Uint8Array } };
      expect([http.statusCode, Buffer.from(http.body.bytes).toString()]).toEqual(['202', 'rescued']);
      expect(seen).toEqual(['pre onQueue', 'post onQueue ok', 'pre fails', 'post fails boom']);
    } finally {
      pre.dispose();
      post.dispose();
    }
  });

  it('rejects with the handler error', async () => {
    await expect(
      registry.invoke('fails', {
        triggerData: { http: { method: 'GET', url: 'http://localhost/api/fails' } },
      }),
    ).rejects.toThrow('boom');
  });

  it('fills extra inputs from an extension provider and names a missing one', async () => {
    const req = { triggerData: { http: { method: 'GET', url: 'http://localhost/api/with-client' } } };
    await expect(registry.invoke('withClient', req)).rejects.toThrow(
      /input binding "client" of type "fakeClient"/,
    );
    registry.addExtension({
      name: 'fake',
      start: async () => undefined,
      stop: async () => undefined,
      inputBindings: {
        fakeClient: (binding, fn) => ({ json: JSON.stringify({ hub: binding.taskHub, fn: fn.name }) }),
      },
    });
    const result = await registry.invoke('withClient', req);
    const http = result.returnValue as { body: { bytes: Uint8Array } };
    expect(JSON.parse(Buffer.from(http.body.bytes).toString())).toEqual({ hub: 'hub1', fn: 'withClient' });
  });
});
