/**
 * Storage output bindings (`queue`, `blob`) delivered the way the host does after a function returns: queue
 * values become base64 messages (an array means one message per element, objects are JSON), blob values are
 * written to the binding's path with `{name}`-style expressions filled from the trigger metadata.
 */
import { randomUUID } from 'crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import type { RpcTypedData } from './core-types';
import { decodeTypedData, type FunctionRegistry } from './registry';
import { bindingOption, storageConnectionString, type AppSettings } from './settings';

export function registerStorageOutputs(
  registry: FunctionRegistry,
  settings: AppSettings,
  messageEncoding: 'base64' | 'none',
): void {
  registry.addOutputHandler('queue', async (binding, value) => {
    const queueName = bindingOption(binding, 'queueName', `Output "${binding.name}"`, settings).toLowerCase();
    const queue = new QueueClient(storageConnectionString(binding.connection, settings), queueName);
    await queue.createIfNotExists();
    for (const item of Array.isArray(value) ? value : [value]) {
      const text = typeof item === 'string' ? item : JSON.stringify(item);
      await queue.sendMessage(messageEncoding === 'base64' ? Buffer.from(text).toString('base64') : text);
    }
  });

  registry.addOutputHandler('blob', async (binding, value, { triggerMetadata }) => {
    const path = fillPath(
      bindingOption(binding, 'path', `Output "${binding.name}"`, settings),
      triggerMetadata,
    );
    const slash = path.indexOf('/');
    if (slash <= 0) throw new Error(`Blob output path "${path}" needs a container and a blob name`);
    const container = BlobServiceClient.fromConnectionString(
      storageConnectionString(binding.connection, settings),
    ).getContainerClient(path.slice(0, slash));
    await container.createIfNotExists();
    const body = Buffer.isBuffer(value)
      ? value
      : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    await container.getBlockBlobClient(path.slice(slash + 1)).upload(body, body.length);
  });
}

/** Fills `{param}`, `{rand-guid}` and `{DateTime}` in an output path. */
export function fillPath(path: string, triggerMetadata: Record<string, RpcTypedData>): string {
  return path.replace(/\{([^{}]+)\}/g, (_all, key: string) => {
    if (key.toLowerCase() === 'rand-guid') return randomUUID();
    if (key.toLowerCase() === 'datetime') return new Date().toISOString();
    const entry = Object.entries(triggerMetadata).find(([k]) => k.toLowerCase() === key.toLowerCase());
    const value = entry ? decodeTypedData(entry[1]) : undefined;
    if (value === undefined || value === null) {
      throw new Error(`Output path "${path}": no binding data named "${key}"`);
    }
    if (typeof value === 'string') return value;
    return typeof value === 'number' || typeof value === 'boolean' ? `${value}` : JSON.stringify(value);
  });
}
