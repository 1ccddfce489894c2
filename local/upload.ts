/**
 * `npm run upload -- FILE [BLOB_NAME]`: puts a labelled-data file into the `incoming` container of the configured
 * data storage (the local emulator by default, or any account the settings point at), which starts ingestion.
 */
import { basename } from 'path';
import { getConfig } from '../shared/config';
import { createPlatformClients } from '../shared/platform/clients';
import { BLOB_CONTAINERS } from '../shared/platform/resources';
import { messageOf } from './services/process';

async function main(): Promise<void> {
  const [file, name] = process.argv.slice(2);
  if (!file) {
    console.error('usage: npm run upload -- FILE [BLOB_NAME]');
    process.exit(2);
  }
  const clients = createPlatformClients(getConfig());
  try {
    const blobName = name ?? basename(file);
    const blob = clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.incoming).getBlockBlobClient(blobName);
    await blob.uploadFile(file);
    console.log(`uploaded ${file} to ${BLOB_CONTAINERS.incoming}/${blobName}`);
  } finally {
    await clients.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(messageOf(error));
  process.exit(1);
});
