import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestError } from '@azure/core-rest-pipeline';
import type * as pulumi from '@pulumi/pulumi';
import {
  backOffDelayMs,
  describeFailure,
  diffPackageUpload,
  diffWarmUp,
  hostWarmUpType,
  isRolePropagationDenial,
  isTransientArmStatus,
  syncFunctionTriggers,
  syncTriggersUrl,
  packageBlobUrl,
  packageUploadType,
  retryWithBackOff,
  roleNeverPropagatedError,
  waitForHealthy,
  type Clock,
  type PackageUploadInputs,
  type WarmUpInputs,
} from '../../../infra/components/deploymentPackage';
import { dynamicOfType, runStack } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the loader Pulumi's dynamic provider host uses
const requireFromString = require('require-from-string') as (code: string) => { handler: () => unknown };

const uploadInputs: PackageUploadInputs = {
  accountName: 'hsmlopshost1',
  blobEndpoint: 'https://hsmlopshost1.blob.core.windows.net/',
  containerName: 'deployment-package',
  blobName: 'released-package.zip',
  packagePath: '/build/a/hs-mlops.zip',
  sha256: 'a'.repeat(64),
  roleWaitSeconds: 300,
};

/** A clock that never waits: sleeping moves time forward and is recorded. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
      now += milliseconds;
    },
  };
}

function permissionMismatch(): RestError {
  return new RestError('This request is not authorized to perform this operation using this permission.', {
    statusCode: 403,
    code: 'AuthorizationPermissionMismatch',
  });
}

describe('upload diff', () => {
  it('does nothing for the same zip, wherever it was built', () => {
    expect(
      diffPackageUpload(uploadInputs, { ...uploadInputs, packagePath: '/elsewhere/hs-mlops.zip' }),
    ).toEqual({
      changes: false,
      replaces: [],
    });
  });

  it('uploads a changed zip over the same blob in place', () => {
    expect(diffPackageUpload(uploadInputs, { ...uploadInputs, sha256: 'b'.repeat(64) })).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it('replaces the upload when the blob it names moves, and ignores the retry budget', () => {
    expect(
      diffPackageUpload(uploadInputs, { ...uploadInputs, containerName: 'other', blobName: 'x.zip' }),
    ).toEqual({
      changes: true,
      replaces: ['containerName', 'blobName'],
    });
    expect(diffPackageUpload(uploadInputs, { ...uploadInputs, roleWaitSeconds: 60 }).changes).toBe(false);
  });
});

describe('package blob URL', () => {
  it('joins endpoint, container and blob name, with or without the trailing slash', () => {
    const expected = 'https://hsmlopshost1.blob.core.windows.net/deployment-package/released-package.zip';
    expect(packageBlobUrl(uploadInputs)).toBe(expected);
    expect(
      packageBlobUrl({ ...uploadInputs, blobEndpoint: 'https://hsmlopshost1.blob.core.windows.net' }),
    ).toBe(expected);
    expect(packageBlobUrl({ ...uploadInputs, blobName: 'v 2/a#b.zip' })).toBe(
      'https://hsmlopshost1.blob.core.windows.net/deployment-package/v%202/a%23b.zip',
    );
  });
});

describe('which upload failures wait for the role', () => {
  it('retries only 403 AuthorizationPermissionMismatch', () => {
    expect(isRolePropagationDenial(permissionMismatch())).toBe(true);
    // The header form, when the body could not be parsed.
    expect(
      isRolePropagationDenial({
        statusCode: 403,
        response: { parsedHeaders: { errorCode: 'AuthorizationPermissionMismatch' } },
      }),
    ).toBe(true);
    const final: unknown[] = [
      new RestError('network rules', { statusCode: 403, code: 'AuthorizationFailure' }),
      new RestError('keys are off', { statusCode: 403, code: 'KeyBasedAuthenticationNotPermitted' }),
      new RestError('no container', { statusCode: 404, code: 'ContainerNotFound' }),
      new RestError('mismatch without status', { code: 'AuthorizationPermissionMismatch' }),
      new Error('AuthorizationPermissionMismatch'),
      'AuthorizationPermissionMismatch',
      undefined,
      null,
    ];
    for (const error of final) expect(isRolePropagationDenial(error)).toBe(false);
  });
});

describe('retry with back-off', () => {
  const backOff = { deadlineMs: 300_000, firstDelayMs: 2_000, maxDelayMs: 30_000 };
  const giveUp = (lastError: unknown, attempts: number): Error =>
    new Error(`gave up after ${attempts}: ${(lastError as Error).message}`);

  it('doubles the wait up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((attempt) => backOffDelayMs(backOff, attempt))).toEqual([
      2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('retries a role still propagating until the upload goes through', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retryWithBackOff(
      async () => {
        calls += 1;
        if (calls < 4) throw permissionMismatch();
        return 'uploaded';
      },
      isRolePropagationDenial,
      backOff,
      giveUp,
      clock,
    );
    expect(result).toBe('uploaded');
    expect(calls).toBe(4);
    expect(clock.sleeps).toEqual([2_000, 4_000, 8_000]);
  });

  it('gives up at the deadline, with one last attempt there', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retryWithBackOff(
        async () => {
          calls += 1;
          throw permissionMismatch();
        },
        isRolePropagationDenial,
        backOff,
        giveUp,
        clock,
      ),
    ).rejects.toThrow('gave up after 14: This request is not authorized');
    expect(clock.sleeps.reduce((sum, sleep) => sum + sleep, 0)).toBe(300_000);
    expect(Math.max(...clock.sleeps)).toBe(30_000);
    expect(calls).toBe(clock.sleeps.length + 1);
  });

  it('fails at once on an error waiting cannot fix', async () => {
    const clock = fakeClock();
    const denied = new RestError('keys are off', {
      statusCode: 403,
      code: 'KeyBasedAuthenticationNotPermitted',
    });
    await expect(
      retryWithBackOff(
        async () => {
          throw denied;
        },
        isRolePropagationDenial,
        backOff,
        giveUp,
        clock,
      ),
    ).rejects.toBe(denied);
    expect(clock.sleeps).toEqual([]);
  });

  it('tells the deployer what was denied, for how long, and what to do', () => {
    const message = roleNeverPropagatedError(uploadInputs, permissionMismatch(), 14).message;
    expect(message).toContain('hsmlopshost1/deployment-package');
    expect(message).toContain('after 300 s and 14 attempts');
    expect(message).toContain('Storage Blob Data Contributor');
    expect(message).toContain('run `pulumi up` again');
    expect(message).toContain('not authorized to perform this operation');
  });
});

/** A local health route that answers with the statuses given, then keeps answering the last one. */
async function healthServer(
  statuses: number[],
): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((_request, response) => {
    const status = statuses[Math.min(hits, statuses.length - 1)]!;
    hits += 1;
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ status: status === 200 ? 'ok' : 'degraded', checks: { cosmosDb: { ok: false } } }),
    );
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/health`, server, hits: () => hits };
}

function close(server: Server): Promise<void> {
  return new Promise((closed) => server.close(() => closed()));
}

describe('warm-up', () => {
  const poll = { timeoutMs: 60_000, intervalMs: 10_000, requestTimeoutMs: 5_000 };

  it('polls the health route until it answers 200', async () => {
    const { url, server, hits } = await healthServer([503, 503, 200]);
    try {
      const clock = fakeClock();
      await expect(waitForHealthy(url, poll, clock)).resolves.toEqual({ attempts: 3 });
      expect(hits()).toBe(3);
      expect(clock.sleeps).toEqual([10_000, 10_000]);
    } finally {
      await close(server);
    }
  });

  it('fails after the timeout with the last answer and what to check', async () => {
    const { url, server } = await healthServer([503]);
    try {
      const clock = fakeClock();
      const failure = waitForHealthy(url, poll, clock);
      await expect(failure).rejects.toThrow(
        `${url} did not answer 200 within 60 s (7 attempts; last: HTTP 503 `,
      );
      await expect(failure).rejects.toThrow(/"cosmosDb":\{"ok":false\}[\s\S]*run `pulumi up` again/);
      expect(clock.sleeps.reduce((sum, sleep) => sum + sleep, 0)).toBe(60_000);
    } finally {
      await close(server);
    }
  });

  it('keeps polling through connection failures, and reports them', async () => {
    const { url, server } = await healthServer([200]);
    await close(server);
    await expect(waitForHealthy(url, { ...poll, timeoutMs: 20_000 }, fakeClock())).rejects.toThrow(
      /\(3 attempts; last: fetch failed \(.*ECONNREFUSED/,
    );
  });

  it('describes failures with their cause, whatever realm made them', () => {
    expect(
      describeFailure(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND app') })),
    ).toBe('fetch failed (getaddrinfo ENOTFOUND app)');
    expect(describeFailure({ message: 'The operation was aborted due to timeout' })).toBe(
      'The operation was aborted due to timeout',
    );
    expect(describeFailure('plain')).toBe('plain');
  });

  it('warms again for a new package or URL, not for new timings', () => {
    const warmUp: WarmUpInputs = {
      healthUrl: 'https://app.azurewebsites.net/api/health',
      functionAppId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app',
      packageSha256: 'a'.repeat(64),
      timeoutSeconds: 600,
      intervalSeconds: 10,
    };
    expect(diffWarmUp(warmUp, { ...warmUp, timeoutSeconds: 60 })).toEqual({ changes: false, replaces: [] });
    expect(diffWarmUp(warmUp, { ...warmUp, packageSha256: 'b'.repeat(64) })).toEqual({
      changes: true,
      replaces: [],
    });
    expect(diffWarmUp(warmUp, { ...warmUp, healthUrl: 'https://other/api/health' }).changes).toBe(true);
    expect(diffWarmUp(warmUp, { ...warmUp, functionAppId: '/subscriptions/s/x' }).changes).toBe(true);
  });
});

describe('trigger sync', () => {
  const appId = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app';

  /** A local ARM stand-in that answers with the statuses given and records each request. */
  async function armServer(statuses: number[]): Promise<{
    url: string;
    server: Server;
    requests: { method: string; path: string; authorization: string }[];
  }> {
    const requests: { method: string; path: string; authorization: string }[] = [];
    const server = createServer((request, response) => {
      const status = statuses[Math.min(requests.length, statuses.length - 1)]!;
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        authorization: request.headers.authorization ?? '',
      });
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(status === 204 ? undefined : JSON.stringify({ error: { code: `Status${status}` } }));
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
  }

  it('calls the ARM action of the app', () => {
    expect(syncTriggersUrl('https://management.azure.com', appId)).toBe(
      `https://management.azure.com${appId}/syncfunctiontriggers?api-version=2024-04-01`,
    );
  });

  it('POSTs with the bearer token and retries throttling and server errors', async () => {
    const { url, server, requests } = await armServer([429, 503, 204]);
    try {
      const clock = fakeClock();
      await syncFunctionTriggers(syncTriggersUrl(url, appId), 'token-1', clock);
      expect(requests).toEqual(
        Array.from({ length: 3 }, () => ({
          method: 'POST',
          path: `${appId}/syncfunctiontriggers?api-version=2024-04-01`,
          authorization: 'Bearer token-1',
        })),
      );
      expect(clock.sleeps).toEqual([2_000, 4_000]);
    } finally {
      await close(server);
    }
  });

  it('reports a refusal at once, with what it means for the app', async () => {
    const { url, server, requests } = await armServer([403]);
    try {
      const clock = fakeClock();
      await expect(syncFunctionTriggers(syncTriggersUrl(url, appId), 't', clock)).rejects.toThrow(
        /syncfunctiontriggers failed: HTTP 403 .*Status403.*non-HTTP triggers may not scale from zero/,
      );
      expect(requests).toHaveLength(1);
      expect(clock.sleeps).toEqual([]);
    } finally {
      await close(server);
    }
  });

  it('retries only throttling and server errors', () => {
    expect([429, 500, 502, 503].map(isTransientArmStatus)).toEqual([true, true, true, true]);
    expect([400, 401, 403, 404, 409].map(isTransientArmStatus)).toEqual([false, false, false, false, false]);
  });
});

describe('the providers as Pulumi ships them', () => {
  const folder = mkdtempSync(join(tmpdir(), 'packaging-rollout-'));
  const packagePath = join(folder, 'hs-mlops.zip');
  let upload: pulumi.dynamic.ResourceProvider;
  let warmUp: pulumi.dynamic.ResourceProvider;

  /** Loads a recorded `__provider` the way the dynamic provider host does: a module from its serialised text. */
  function deserialise(text: unknown): pulumi.dynamic.ResourceProvider {
    expect(typeof text).toBe('string');
    return requireFromString(text as string).handler() as pulumi.dynamic.ResourceProvider;
  }

  beforeAll(async () => {
    writeFileSync(packagePath, 'zip bytes as packaged');
    const run = await runStack({ deploymentPackagePath: packagePath });
    upload = deserialise(dynamicOfType(run, packageUploadType)[0]!.inputs.__provider);
    warmUp = deserialise(dynamicOfType(run, hostWarmUpType)[0]!.inputs.__provider);
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('diff the upload by content after serialisation', async () => {
    await expect(
      upload.diff!('id', uploadInputs, { ...uploadInputs, packagePath: '/x.zip' }),
    ).resolves.toEqual({
      changes: false,
      replaces: [],
    });
  });

  it('load the Azure SDKs from the project, then refuse a zip that changed since it was hashed', async () => {
    // The check runs after @azure/identity and @azure/storage-blob are loaded, so reaching it proves they resolve.
    await expect(upload.create({ ...uploadInputs, packagePath })).rejects.toThrow(
      `${packagePath} changed while pulumi ran (sha256 `,
    );
  });

  it('poll the health route after serialisation', async () => {
    const { url, server } = await healthServer([503]);
    try {
      const inputs: WarmUpInputs = {
        healthUrl: url,
        functionAppId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app',
        packageSha256: 'c'.repeat(64),
        timeoutSeconds: 1,
        intervalSeconds: 1,
      };
      await expect(warmUp.create(inputs)).rejects.toThrow(`${url} did not answer 200 within 1 s`);
      await expect(warmUp.diff!('id', inputs, { ...inputs, timeoutSeconds: 9 })).resolves.toEqual({
        changes: false,
        replaces: [],
      });
    } finally {
      await close(server);
    }
  });
});
