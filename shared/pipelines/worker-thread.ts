/**
 * Runs CPU-heavy work (model training) in a `worker_threads` Worker, so the instance's event loop keeps
 * answering HTTP requests, timers and durable messages meanwhile. The worker posts progress messages while it
 * works and one final result (or error); the caller handles progress on its own thread, in order.
 *
 * A module is named without its extension: the compiled `.js` beside it is used when it exists (the built app),
 * otherwise the `.ts` source runs through SWC (tests and `node -r bench/swc-register.js`, where there is no build).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, parentPort, workerData, type Transferable } from 'node:worker_threads';
import { findProjectRoot } from '../project';

type Envelope =
  | { readonly kind: 'progress'; readonly body: unknown }
  | { readonly kind: 'result'; readonly body: unknown }
  | { readonly kind: 'error'; readonly message: string; readonly stack: string | undefined };

/** Thrown in the caller when the worker's work failed; keeps the worker's stack. */
export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly workerStack: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}

/**
 * The project's development-only require hook (SWC, a development dependency): needed only when a module has no
 * compiled `.js`, i.e. never in a build.
 */
function typescriptHook(): string {
  return join(findProjectRoot(), 'bench', 'swc-register.js');
}

function startWorker(modulePath: string, data: unknown, transferList: readonly Transferable[]): Worker {
  const options = { workerData: data, transferList: [...transferList] };
  if (existsSync(`${modulePath}.js`)) return new Worker(`${modulePath}.js`, options);
  if (!existsSync(`${modulePath}.ts`)) throw new Error(`worker module ${modulePath}(.js|.ts) does not exist`);
  const program = [typescriptHook(), `${modulePath}.ts`].map((file) => `require(${JSON.stringify(file)});`);
  return new Worker(program.join('\n'), {
    ...options,
    eval: true,
  });
}

export interface WorkerRunOptions<Progress> {
  /** Called on the caller's thread for every progress message, in the order they were posted. */
  readonly onProgress?: (progress: Progress) => void;
  /** Buffers in `input` moved to the worker rather than copied. */
  readonly transferList?: readonly Transferable[];
}

/**
 * Runs the module's `serveWorkerTask` handler with `input` in a new Worker; resolves with its result and ends the
 * worker. Rejects with the worker's error, or when the worker exits without a result.
 */
export function runInWorker<Input, Progress, Result>(
  modulePath: string,
  input: Input,
  options: WorkerRunOptions<Progress> = {},
): Promise<Result> {
  return new Promise<Result>((resolve, reject) => {
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      action();
    };
    let worker: Worker;
    try {
      worker = startWorker(modulePath, input, options.transferList ?? []);
    } catch (error: unknown) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    worker.on('message', (envelope: Envelope) => {
      if (envelope.kind === 'progress') {
        try {
          options.onProgress?.(envelope.body as Progress);
        } catch (error: unknown) {
          // A progress handler that throws is a bug in the caller: stop the work rather than hide it.
          settle(() => reject(error instanceof Error ? error : new Error(String(error))));
          void worker.terminate();
        }
      } else if (envelope.kind === 'result') {
        settle(() => resolve(envelope.body as Result));
      } else {
        settle(() => reject(new WorkerTaskError(envelope.message, envelope.stack)));
      }
    });
    worker.on('error', (error: Error) => settle(() => reject(error)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`worker ${modulePath} exited with code ${code} before its result`))),
    );
  });
}

/** Posts one progress message from inside a worker; `transferList` moves its buffers instead of copying them. */
export type PostProgress<Progress> = (progress: Progress, transferList?: readonly Transferable[]) => void;

/**
 * The worker side: call once at the top of a worker module. Runs `handler` on the input, posts its result (or its
 * error), and lets the thread end. Outside a worker (the module imported for its types) it does nothing.
 */
export function serveWorkerTask<Input, Progress, Result>(
  handler: (
    input: Input,
    post: PostProgress<Progress>,
  ) => Promise<{ result: Result; transferList?: Transferable[] }>,
): void {
  const port = parentPort;
  if (port === null) return;
  const post: PostProgress<Progress> = (body, transferList = []) =>
    port.postMessage({ kind: 'progress', body } satisfies Envelope, [...transferList]);
  handler(workerData as Input, post).then(
    ({ result, transferList = [] }) =>
      port.postMessage({ kind: 'result', body: result } satisfies Envelope, transferList),
    (error: unknown) =>
      port.postMessage({
        kind: 'error',
        message: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
      } satisfies Envelope),
  );
}
