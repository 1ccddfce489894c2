/**
 * Child processes for the local emulators. Each runs in its own process group so that stopping it also stops
 * anything it started, and so a terminal Ctrl-C reaches only the launcher, which then stops the groups in order
 * (the Cosmos snapshot needs the emulator alive while it is taken).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the process has exited (and been reaped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
}

const live = new Map<number, string>();
let exitHookInstalled = false;

/** Last resort: whatever still runs when this process exits is killed, so nothing outlives the launcher. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
  });
}

/** Pids of the emulator processes started by this process and not yet exited. */
export function livePids(): number[] {
  return [...live.keys()];
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error: unknown) {
    // ESRCH: the group is already gone, which is the goal. (Structural check: under jest, Node's errors come
    // from another realm and fail `instanceof Error`.)
    if (!(typeof error === 'object' && error !== null && 'code' in error && error.code === 'ESRCH'))
      throw error;
  }
}

export interface StartProcessOptions {
  readonly name: string;
  /** A Node script, run with this process's Node binary. */
  readonly script: string;
  readonly args: readonly string[];
  /** stdout and stderr go here, appended. */
  readonly logFile: string;
  readonly cwd?: string;
}

export function startNodeProcess(options: StartProcessOptions): ManagedProcess {
  installExitHook();
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [options.script, ...options.args], {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not start ${options.script}`);
  live.set(pid, options.name);
  let exited = false;
  const exitedPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(pid);
      resolve({ code, signal });
      // Anything the leader left behind in its group goes too.
      killGroup(pid, 'SIGKILL');
    });
  });
  const logTail = (lines = 20): string => {
    const text = readFileSync(options.logFile, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trim();
  };
  return {
    name: options.name,
    pid,
    exited: exitedPromise,
    hasExited: () => exited,
    logTail,
    stop: async (graceMs = 5000) => {
      if (exited) return;
      killGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          killGroup(pid, 'SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exitedPromise, forced]);
      clearTimeout(timer);
      await exitedPromise;
    },
  };
}

/** A port nobody listens on right now (the OS picks it). Another process may take it before we bind it. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it succeeds; fails early when the process has exited (port taken, bad arguments) and
 * names the last probe error and the log tail otherwise.
 */
export async function waitUntilReady(
  child: ManagedProcess,
  probe: () => Promise<void>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (child.hasExited()) {
      throw new Error(`${child.name} exited before it was ready:\n${child.logTail()}`);
    }
    try {
      await probe();
      return;
    } catch (error: unknown) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = messageOf(lastError);
      throw new Error(
        `${child.name} not ready after ${options.timeoutMs} ms (${reason}):\n${child.logTail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** The message of anything thrown; structural because Node's own errors fail `instanceof Error` under jest. */
export function messageOf(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string'
  ) {
    return error.message;
  }
  return String(error);
}
