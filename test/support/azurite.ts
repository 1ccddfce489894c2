/**
 * Starts a throwaway Azurite (Blob, Queue, Table) on free ports with a temporary workspace for one test file.
 * `--skipApiVersionCheck` because the current storage SDKs send API versions newer than Azurite knows.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented by Microsoft). */
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  connectionString: string;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  location: string;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<RunningAzurite> {
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
  const child = spawn(
    process.execPath,
    [
      require.resolve('azurite/dist/src/azurite.js'),
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--location',
      location,
      '--blobPort',
      '0',
      '--queuePort',
      '0',
      '--tablePort',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ports = await waitForPorts(child);
  const endpoint = (port: number): string => `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    ...ports,
    location,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${endpoint(ports.blobPort)};QueueEndpoint=${endpoint(ports.queuePort)};` +
      `TableEndpoint=${endpoint(ports.tablePort)};`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(location, { recursive: true, force: true });
    },
  };
}

/** Azurite prints "Azurite Blob service is successfully listening at http://127.0.0.1:PORT" per service. */
function waitForPorts(
  child: ChildProcess,
): Promise<{ blobPort: number; queuePort: number; tablePort: number }> {
  return new Promise((resolve, reject) => {
    const found: Record<string, number> = {};
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not start in 30 s:\n${output}`)), 30_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const m of output.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/[^:]+:(\d+)/g,
      )) {
        found[m[1]!] = Number(m[2]);
      }
      if (found.Blob && found.Queue && found.Table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ blobPort: found.Blob, queuePort: found.Queue, tablePort: found.Table });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => fail(new Error(`Azurite exited with ${code}:\n${output}`)));
  });
}
