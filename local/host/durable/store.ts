/**
 * Durable state in one Azure Table per task hub, one partition per orchestration instance:
 *   `instance`          the instance record (status, input, output, counters); writing it commits an episode
 *   `h-<index>`         history events, in order (rows past the record's historyLength are leftovers, ignored)
 *   `i-<time>-<seq>`    inbox messages for the instance (start, one history event, terminate), oldest first
 *   `a-<exec>-<task>`   activities scheduled and not yet completed
 *   `t-<exec>-<timer>`  durable timers not yet fired
 *   `s-<exec>-<task>`   sub-orchestrations to create;  `p-<exec>` a completion to hand to the parent
 * Keeping an instance in one partition makes an episode's writes one entity-group transaction (up to 100
 * rows); every row key is deterministic, so a larger episode written in chunks (instance row last) can be
 * replayed after a crash without duplicating anything.
 */
import { TableClient, odata, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import type { HistoryEvent, RetryOptionsPayload, RuntimeStatus } from './protocol';

export interface RetryGroup {
  kind: 'activity' | 'subOrchestration';
  name: string;
  /** JSON text of the input, replayed on every attempt. */
  input: string;
  options: RetryOptionsPayload;
  /** 1-based, counted the way the SDK's RetryableTask counts: incremented by each failure. */
  attempt: number;
  currentTaskId: number;
  waitingTimerId?: number;
  /** For sub-orchestrations the caller may fix the child's id; otherwise each attempt gets its own. */
  fixedInstanceId?: string;
}

export interface InstanceRecord {
  instanceId: string;
  name: string;
  status: RuntimeStatus;
  /** JSON text; undefined when started without input. */
  input?: string;
  output?: string;
  customStatus?: string;
  createdTime: string;
  lastUpdatedTime: string;
  /** Changes on continueAsNew so that work of an earlier execution can be recognised and dropped. */
  executionId: string;
  historyLength: number;
  /** The next task id the SDK will assign (its TaskOrchestrationExecutor.sequenceNumber). */
  nextSequence: number;
  /** How many (flattened) actions earlier episodes returned; later ones are new. */
  recordedActions: number;
  retries: RetryGroup[];
  parent?: { instanceId: string; executionId: string; taskId: number };
}

export type InstanceMessage =
  | { type: 'start' }
  | { type: 'event'; executionId?: string; event: HistoryEvent }
  | { type: 'terminate'; reason: string };

export type WorkItem =
  | { kind: 'message'; message: InstanceMessage }
  | { kind: 'activity'; executionId: string; taskId: number; name: string; input: string }
  | { kind: 'timer'; executionId: string; timerId: number; fireAt: string }
  | {
      kind: 'startChild';
      executionId: string;
      taskId: number;
      childInstanceId: string;
      name: string;
      input?: string;
    }
  | { kind: 'notifyParent'; parentInstanceId: string; message: InstanceMessage; messageKey: string };

/** A work item together with where it lives. */
export interface StoredWork<W extends WorkItem = WorkItem> {
  instanceId: string;
  rowKey: string;
  item: W;
}

export interface InstancePartition {
  instance: InstanceRecord | undefined;
  history: HistoryEvent[];
  /** Inbox messages, oldest first. */
  messages: StoredWork<Extract<WorkItem, { kind: 'message' }>>[];
  /** Every other pending work item. */
  work: StoredWork[];
}

export type StoreOp =
  | { op: 'upsertInstance'; record: InstanceRecord }
  | { op: 'putHistory'; index: number; event: HistoryEvent }
  | { op: 'putWork'; rowKey: string; item: WorkItem }
  | { op: 'delete'; rowKey: string };

const INSTANCE_ROW = 'instance';
const WORK_PREFIXES = ['a', 'i', 'p', 's', 't'] as const;
/** A string property holds 64 KiB of UTF-16; payloads are split across numbered properties below that. */
const CHUNK_CHARS = 30_000;
const MAX_TRANSACTION_ROWS = 100;

let messageCounter = 0;

/** A sortable, unique inbox key: enqueue time first, so an instance handles its messages in order. */
export function newMessageKey(now = Date.now()): string {
  messageCounter = (messageCounter + 1) % 1_000_000;
  const random = Math.floor(Math.random() * 0xffffff).toString(16);
  return `i-${String(now).padStart(15, '0')}-${String(messageCounter).padStart(6, '0')}-${random}`;
}

export const workKeys = {
  activity: (executionId: string, taskId: number) => `a-${executionId}-${String(taskId).padStart(6, '0')}`,
  timer: (executionId: string, timerId: number) => `t-${executionId}-${String(timerId).padStart(6, '0')}`,
  startChild: (executionId: string, taskId: number) => `s-${executionId}-${String(taskId).padStart(6, '0')}`,
  notifyParent: (executionId: string) => `p-${executionId}`,
};

function historyKey(index: number): string {
  return `h-${String(index).padStart(8, '0')}`;
}

/** PartitionKey may not contain / \ # ? or control characters; instance ids may. */
function partitionKeyOf(instanceId: string): string {
  let key = '';
  for (const char of instanceId) {
    const code = char.charCodeAt(0);
    const forbidden = '%/\\#?'.includes(char) || code < 0x20 || code === 0x7f;
    key += forbidden ? `%${code.toString(16).padStart(2, '0')}` : char;
  }
  return key;
}

type Row = { partitionKey: string; rowKey: string } & Record<string, string | number>;

function toEntity(partitionKey: string, rowKey: string, value: unknown): Row {
  const text = JSON.stringify(value);
  const entity: Row = { partitionKey, rowKey, chunks: 0 };
  let chunks = 0;
  for (let at = 0; at < text.length || chunks === 0; at += CHUNK_CHARS) {
    entity[`data${chunks}`] = text.slice(at, at + CHUNK_CHARS);
    chunks += 1;
  }
  entity.chunks = chunks;
  return entity;
}

function fromEntity<T>(entity: Record<string, unknown>): T {
  const chunks = Number(entity.chunks);
  let text = '';
  for (let i = 0; i < chunks; i++) {
    const part = entity[`data${i}`];
    if (typeof part !== 'string')
      throw new Error(`Durable store row ${String(entity.rowKey)} is missing data${i}`);
    text += part;
  }
  return JSON.parse(text) as T;
}

/** The sanitized table name for a task hub: letters and digits, starting with a letter, 3 to 63 long. */
export function tableNameFor(taskHubName: string): string {
  const cleaned = taskHubName.replace(/[^A-Za-z0-9]/g, '');
  const name = /^[A-Za-z]/.test(cleaned) ? cleaned : `hub${cleaned}`;
  return `${name}Durable`.slice(0, 63);
}

export class DurableStore {
  readonly #table: TableClient;

  constructor(connectionString: string, taskHubName: string) {
    this.#table = TableClient.fromConnectionString(connectionString, tableNameFor(taskHubName), {
      allowInsecureConnection: /UseDevelopmentStorage=true|http:\/\//i.test(connectionString),
    });
  }

  async init(): Promise<void> {
    await this.#table.createTable();
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      const entity = await this.#table.getEntity(partitionKeyOf(instanceId), INSTANCE_ROW);
      return fromEntity<InstanceRecord>(entity);
    } catch (err: unknown) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async listInstances(): Promise<InstanceRecord[]> {
    const records: InstanceRecord[] = [];
    const rows = this.#table.listEntities({ queryOptions: { filter: odata`RowKey eq ${INSTANCE_ROW}` } });
    for await (const row of rows) records.push(fromEntity<InstanceRecord>(row));
    return records;
  }

  async loadPartition(instanceId: string): Promise<InstancePartition> {
    const partition: InstancePartition = { instance: undefined, history: [], messages: [], work: [] };
    const rows = this.#table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKeyOf(instanceId)}` },
    });
    const history: { key: string; event: HistoryEvent }[] = [];
    for await (const row of rows) {
      const rowKey = row.rowKey ?? '';
      if (rowKey === INSTANCE_ROW) partition.instance = fromEntity<InstanceRecord>(row);
      else if (rowKey.startsWith('h-')) history.push({ key: rowKey, event: fromEntity<HistoryEvent>(row) });
      else {
        const item = fromEntity<WorkItem>(row);
        if (item.kind === 'message') partition.messages.push({ instanceId, rowKey, item });
        else partition.work.push({ instanceId, rowKey, item });
      }
    }
    // Table queries return rows in key order, but sorting here keeps the contract independent of that.
    history.sort((a, b) => a.key.localeCompare(b.key));
    partition.messages.sort((a, b) => a.rowKey.localeCompare(b.rowKey));
    const length = partition.instance?.historyLength ?? 0;
    partition.history = history.slice(0, length).map((h) => h.event);
    return partition;
  }

  /** Every pending work item and inbox message of the hub: what a starting host must pick up again. */
  async listPendingWork(): Promise<StoredWork[]> {
    const found: StoredWork[] = [];
    for (const prefix of WORK_PREFIXES) {
      const rows = this.#table.listEntities({
        queryOptions: { filter: odata`RowKey ge ${`${prefix}-`} and RowKey lt ${`${prefix}.`}` },
      });
      for await (const row of rows) found.push(this.#toStoredWork(row));
    }
    return found;
  }

  #toStoredWork(row: TableEntityResult<Record<string, unknown>>): StoredWork {
    const item = fromEntity<WorkItem>(row);
    return { instanceId: decodePartitionKey(row.partitionKey ?? ''), rowKey: row.rowKey ?? '', item };
  }

  /**
   * Applies the operations to one instance's partition: atomically when they fit in one transaction,
   * otherwise in order, in chunks, so that the caller's last operation (the instance row) commits.
   */
  async commit(instanceId: string, ops: readonly StoreOp[]): Promise<void> {
    const partitionKey = partitionKeyOf(instanceId);
    const actions: TransactionAction[] = ops.map((op): TransactionAction => {
      switch (op.op) {
        case 'upsertInstance':
          return ['upsert', toEntity(partitionKey, INSTANCE_ROW, op.record), 'Replace'];
        case 'putHistory':
          return ['upsert', toEntity(partitionKey, historyKey(op.index), op.event), 'Replace'];
        case 'putWork':
          return ['upsert', toEntity(partitionKey, op.rowKey, op.item), 'Replace'];
        case 'delete':
          return ['delete', { partitionKey, rowKey: op.rowKey }];
      }
    });
    // The short chunk goes first, so the last chunk is full and holds the caller's closing operations together.
    let end = actions.length % MAX_TRANSACTION_ROWS || MAX_TRANSACTION_ROWS;
    for (let start = 0; start < actions.length; start = end, end += MAX_TRANSACTION_ROWS) {
      await this.#table.submitTransaction(actions.slice(start, end));
    }
  }

  /** Deletes every row of the instance; returns whether there was an instance. */
  async purge(instanceId: string): Promise<boolean> {
    const partitionKey = partitionKeyOf(instanceId);
    const keys: string[] = [];
    const rows = this.#table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
    });
    for await (const row of rows) keys.push(row.rowKey ?? '');
    const found = keys.includes(INSTANCE_ROW);
    for (let at = 0; at < keys.length; at += MAX_TRANSACTION_ROWS) {
      const chunk = keys.slice(at, at + MAX_TRANSACTION_ROWS);
      await this.#table.submitTransaction(chunk.map((rowKey) => ['delete', { partitionKey, rowKey }]));
    }
    return found;
  }
}

function decodePartitionKey(partitionKey: string): string {
  return partitionKey.replace(/%([0-9a-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Whether a storage error carries this HTTP status (a transaction reports its failed row's status). */
export function isStatus(err: unknown, status: number): boolean {
  return typeof err === 'object' && err !== null && 'statusCode' in err && err.statusCode === status;
}
