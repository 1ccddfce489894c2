import * as path from 'path';
import { HttpTriggerServer } from '../../../local/host/http';
import { FunctionRegistry } from '../../../local/host/registry';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const entry = path.join(__dirname, '../../fixtures/apps/basic/index.js');
const KEY = 'test-key-123';

describe('HTTP triggers through the local host', () => {
  const logs: string[] = [];
  const registry = FunctionRegistry.load({ entry }, (level, msg) => logs.push(`${level} ${msg}`));
  registry.addExtension({
    name: 'fake',
    start: async () => undefined,
    stop: async () => undefined,
    inputBindings: { fakeClient: () => ({ json: '{"client":true}' }) },
  });
  const server = new HttpTriggerServer(registry, {
    port: 0,
    functionKey: KEY,
    log: (level, msg) => logs.push(`${level} ${msg}`),
    extensions: [
      {
        name: 'ext',
        start: async () => undefined,
        stop: async () => undefined,
        http: {
          pathPrefix: '/runtime/webhooks/fake/',
          handle: async (req, res) => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(`ext saw ${req.method} ${req.url}`);
          },
        },
      },
    ],
  });
  let baseUrl = '';

  beforeAll(async () => {
    baseUrl = await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('reaches a route with a parameter only with the function key', async () => {
    expect((await fetch(`${baseUrl}/api/models/v7`)).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/models/v7?code=wrong`)).status).toBe(401);

    const byHeader = await fetch(`${baseUrl}/api/models/v7?q=abc`, { headers: { 'x-functions-key': KEY } });
    expect(byHeader.status).toBe(200);
    expect(byHeader.headers.get('content-type')).toMatch(/application\/json/);
    expect(await byHeader.json()).toEqual({ version: 'v7', functionName: 'getModel', q: 'abc' });

    const byQuery = await fetch(`${baseUrl}/api/MODELS/v8?code=${KEY}`);
    expect(byQuery.status).toBe(200);
    expect(((await byQuery.json()) as { version: string }).version).toBe('v8');
  });

  it('applies constraints and optional parameters and passes body, method and status back', async () => {
    const post = await fetch(`${baseUrl}/api/echo/42/blue`, {
      method: 'POST',
      body: JSON.stringify({ a: [1, 2] }),
    });
    expect(post.status).toBe(201);
    expect(post.headers.get('x-echo')).toBe('yes');
    expect(await post.json()).toEqual({ id: '42', tag: 'blue', body: { a: [1, 2] }, method: 'POST' });

    const noTag = await fetch(`${baseUrl}/api/echo/7`, { method: 'PUT', body: '"x"' });
    expect(await noTag.json()).toEqual({ id: '7', tag: null, body: 'x', method: 'PUT' });

    expect((await fetch(`${baseUrl}/api/echo/notanint`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('answers 404 for unknown routes, 405 for wrong methods and 500 when the function throws', async () => {
    expect((await fetch(`${baseUrl}/api/nope`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/models/v1?code=${KEY}`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/api/echo/1`, { method: 'GET' })).status).toBe(405);
    expect(
      (await fetch(`${baseUrl}/api/hello`, { method: 'DELETE', headers: { 'x-functions-key': KEY } })).status,
    ).toBe(405);
    const hello = await fetch(`${baseUrl}/api/hello?code=${KEY}`);
    expect(await hello.text()).toBe('hello world');
    expect((await fetch(`${baseUrl}/api/fails`)).status).toBe(500);
    expect(logs.some((l) => l.startsWith('error') && l.includes('boom'))).toBe(true);
  });

  it('routes extension paths first and fills extension input bindings', async () => {
    const ext = await fetch(`${baseUrl}/runtime/webhooks/fake/instances?x=1`, { method: 'POST' });
    expect(await ext.text()).toBe('ext saw POST /runtime/webhooks/fake/instances?x=1');
    const withClient = await fetch(`${baseUrl}/api/with-client`);
    expect(await withClient.json()).toEqual({ client: true });
  });
});
