/**
 * Reachability of the app's dependencies, for `/api/health` and the local launcher. Each check is a real data
 * request under a short deadline, so a hung dependency reports as unreachable instead of hanging the probe.
 */
import type { Database } from '@azure/cosmos';
import type { BlobServiceClient } from '@azure/storage-blob';
import { getConfig } from '../config';
import { getPlatformClients } from './clients';
import { BLOB_CONTAINERS } from './resources';

export interface DependencyCheck {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why it failed; absent when ok. */
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly version: string;
  readonly checks: {
    readonly blobStorage: DependencyCheck;
    readonly cosmosDb: DependencyCheck;
  };
}

export interface HealthTargets {
  readonly blobs: BlobServiceClient;
  readonly database: Database;
  readonly version: string;
  /** Per-check deadline in milliseconds. */
  readonly timeoutMs: number;
}

/** Checks every dependency in parallel; never throws. */
export async function checkHealth(targets: HealthTargets = defaultTargets()): Promise<HealthReport> {
  const [blobStorage, cosmosDb] = await Promise.all([
    timed(targets.timeoutMs, async (abortSignal) => {
      // A data-plane read that managed-identity roles allow, and that proves the app's containers exist.
      await targets.blobs.getContainerClient(BLOB_CONTAINERS.models).getProperties({ abortSignal });
    }),
    timed(targets.timeoutMs, async (abortSignal) => {
      await targets.database.read({ abortSignal });
    }),
  ]);
  return {
    status: blobStorage.ok && cosmosDb.ok ? 'ok' : 'degraded',
    version: targets.version,
    checks: { blobStorage, cosmosDb },
  };
}

function defaultTargets(): HealthTargets {
  const config = getConfig();
  const clients = getPlatformClients();
  return {
    blobs: clients.dataBlobs,
    database: clients.database,
    version: config.appVersion,
    timeoutMs: config.healthTimeoutMs,
  };
}

const MAX_ERROR_LENGTH = 300;

async function timed(
  timeoutMs: number,
  probe: (signal: AbortSignal) => Promise<void>,
): Promise<DependencyCheck> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // The SDKs retry refused connections with back-off; the abort stops that, the race bounds it regardless.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([probe(controller.signal), deadline]);
    return { ok: true, latencyMs: elapsed(started) };
  } catch (error: unknown) {
    return { ok: false, latencyMs: elapsed(started), error: describe(error) };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

function describe(error: unknown): string {
  // Structural, not `instanceof Error`: errors raised by Node's own sockets may come from another realm (jest).
  let text = String(error);
  if (
    typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string'
  ) {
    const code =
      'code' in error && (typeof error.code === 'string' || typeof error.code === 'number')
        ? `${error.code}: `
        : '';
    const status =
      'statusCode' in error && typeof error.statusCode === 'number' ? `HTTP ${error.statusCode} ` : '';
    text = `${status}${code}${error.message}`;
  }
  const firstLine = text.split('\n')[0] ?? text;
  return firstLine.length > MAX_ERROR_LENGTH ? `${firstLine.slice(0, MAX_ERROR_LENGTH)}…` : firstLine;
}
