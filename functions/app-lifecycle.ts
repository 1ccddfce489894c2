/**
 * App-level hooks. On shutdown (an instance scaled in, a deployment, Ctrl-C on the local host) the classification
 * service flushes its audit buffer — to Cosmos, or to the Blob spill when Cosmos is unavailable — before the shared
 * clients close, so no prediction record is lost and no connection keeps the process alive.
 */
import { app } from '@azure/functions';
import { closeClassificationService } from '../shared/inference/service';
import { disposePlatformClients } from '../shared/platform/clients';

export async function closeInstanceServices(): Promise<void> {
  await closeClassificationService();
  await disposePlatformClients();
}

app.hook.appTerminate(closeInstanceServices);
