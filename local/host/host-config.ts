/**
 * What the local host reads from the app folder, as Core Tools does: `host.json` (HTTP route prefix, queue
 * settings) and `local.settings.json` `Values` (app settings; real environment variables win).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { QueueTriggerOptions } from './triggers/queue';

export interface HostJsonSettings {
  routePrefix: string;
  queues: QueueTriggerOptions;
}

export function readHostJson(appRoot: string): HostJsonSettings {
  const file = path.join(appRoot, 'host.json');
  if (!fs.existsSync(file)) return { routePrefix: 'api', queues: {} };
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    extensions?: {
      http?: { routePrefix?: string };
      queues?: {
        batchSize?: number;
        maxDequeueCount?: number;
        visibilityTimeout?: string;
        messageEncoding?: string;
      };
    };
  };
  const queues = json.extensions?.queues ?? {};
  const encoding = queues.messageEncoding?.toLowerCase();
  if (encoding !== undefined && encoding !== 'base64' && encoding !== 'none') {
    throw new Error(
      `host.json extensions.queues.messageEncoding "${queues.messageEncoding}" is not base64 or none`,
    );
  }
  return {
    routePrefix: json.extensions?.http?.routePrefix ?? 'api',
    queues: {
      batchSize: queues.batchSize,
      maxDequeueCount: queues.maxDequeueCount,
      retryVisibilityTimeoutSeconds:
        queues.visibilityTimeout === undefined ? undefined : timeSpanSeconds(queues.visibilityTimeout),
      messageEncoding: encoding,
    },
  };
}

export function readLocalSettings(appRoot: string): Record<string, string> {
  const file = path.join(appRoot, 'local.settings.json');
  if (!fs.existsSync(file)) return {};
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  return Object.fromEntries(Object.entries(json.Values ?? {}).map(([k, v]) => [k, String(v)]));
}

/** `hh:mm:ss` (optionally `d.hh:mm:ss`) to seconds. */
export function timeSpanSeconds(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(value);
  if (!m) throw new Error(`"${value}" is not a TimeSpan (hh:mm:ss)`);
  return ((Number(m[1] ?? 0) * 24 + Number(m[2])) * 60 + Number(m[3])) * 60 + Number(m[4]);
}
