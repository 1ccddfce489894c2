/** What the host needs from every trigger listener, and a polling loop the storage listeners share. */
import type { FunctionRegistry } from '../registry';
import type { AppSettings } from '../settings';

export interface TriggerListener {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface TriggerEnvironment {
  registry: FunctionRegistry;
  settings: AppSettings;
  /** Identifies this host in receipts and timer status blobs (the real host derives it from the site name). */
  hostId: string;
  /** `AzureWebJobsStorage`, where the host keeps its own bookkeeping. */
  storageConnectionString: string;
  log: (level: string, msg: string) => void;
}

/** Runs `poll` every `intervalMs` (after the previous poll ends) until stopped; a failing poll is logged. */
export class PollingLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly poll: () => Promise<void>,
    private readonly log: (level: string, msg: string) => void,
  ) {}

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.poll()
        .catch((err: unknown) => {
          this.log('error', `${this.name}: poll failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(this.intervalMs);
        });
    }, delay);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
