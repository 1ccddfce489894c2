/**
 * How event-started workflows avoid running twice: the caller derives the instance id from what the event is
 * about (an upload's name and content hash, a dataset version, an alert), and an instance is started only when
 * none with that id exists. Triggers are at-least-once, so a redelivered event finds the instance and starts
 * nothing.
 */
import type { DurableClient } from 'durable-functions';

/** The instance's runtime status, or undefined when there is none. */
export async function findInstanceStatus(
  client: DurableClient,
  instanceId: string,
): Promise<string | undefined> {
  try {
    const status = await client.getStatus(instanceId);
    return status.runtimeStatus;
  } catch (error: unknown) {
    // The SDK reports "no such instance" only as an error naming the HTTP 404.
    if (error instanceof Error && /HTTP 404/.test(error.message)) return undefined;
    throw error;
  }
}

export type StartOnceResult =
  | { readonly instanceId: string; readonly started: true }
  | { readonly instanceId: string; readonly started: false; readonly existingStatus: string };

/** Starts `orchestrator` as `instanceId` with `input`, unless an instance with that id already exists. */
export async function startOnce(
  client: DurableClient,
  orchestrator: string,
  instanceId: string,
  input: unknown,
): Promise<StartOnceResult> {
  const existingStatus = await findInstanceStatus(client, instanceId);
  if (existingStatus !== undefined) return { instanceId, started: false, existingStatus };
  await client.startNew(orchestrator, { instanceId, input });
  return { instanceId, started: true };
}
