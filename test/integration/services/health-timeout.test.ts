import { createServer, type Server, type Socket } from 'node:net';
import { loadConfig } from '../../../shared/config';
import { createPlatformClients } from '../../../shared/platform/clients';
import { checkHealth } from '../../../shared/platform/health';

/** A dependency that accepts connections and then never answers: the case a probe must not hang on. */
describe('checkHealth against a dependency that never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let port: number;

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('reports both as unreachable once the deadline passes', async () => {
    const config = loadConfig({
      DataStorage: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
      CosmosDb: `AccountEndpoint=https://127.0.0.1:${port}/;AccountKey=a2V5;`,
    });
    const clients = createPlatformClients(config);
    try {
      const started = Date.now();
      const report = await checkHealth({
        blobs: clients.dataBlobs,
        database: clients.database,
        version: 'test',
        timeoutMs: 300,
      });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1500);
      expect(report.status).toBe('degraded');
      expect(report.checks.blobStorage).toMatchObject({ ok: false });
      expect(report.checks.cosmosDb).toMatchObject({ ok: false });
      expect(report.checks.cosmosDb.latencyMs).toBeGreaterThanOrEqual(290);
    } finally {
      await clients.dispose();
    }
  });
});
