/**
 * In-memory broker state for the local Service Bus peer: queues, topic subscriptions, their dead-letter
 * subqueues, peek-lock locks and delivery counts. Nothing is persisted: stopping the peer drops every message,
 * which is what tests and a local dev loop want (a fresh namespace per start).
 *
 * This module knows nothing about AMQP; `peer.ts` maps links and dispositions onto it.
 */
import { randomUUID } from 'node:crypto';

/** Why a message was moved to a dead-letter subqueue by the broker itself (Service Bus uses the same text). */
export const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';

/** A message as stored: the sender's message (opaque to the store) plus what the broker tracks about it. */
export interface StoredMessage<Payload> {
  /** Assigned at enqueue, unique and increasing within the entity the message was sent to. */
  readonly sequenceNumber: number;
  readonly enqueuedTimeUtc: Date;
  /** The message the sender sent, never mutated (topic subscriptions share it). */
  readonly payload: Payload;
  /** Application properties the broker set or changed (dead-letter reason, abandon's properties to modify). */
  brokerApplicationProperties: Record<string, unknown>;
  /** Failed delivery attempts so far: abandons and lock expiries. Sent as the AMQP header delivery-count. */
  deliveryCount: number;
}

export interface LockedMessage<Payload> {
  readonly message: StoredMessage<Payload>;
  readonly lockToken: string;
  readonly lockedUntilUtc: Date;
}

export interface EntityLimits {
  /** Deliveries after which a message is dead-lettered with reason MaxDeliveryCountExceeded. Service Bus default: 10. */
  readonly maxDeliveryCount: number;
  /** How long a peek-lock lasts before the message becomes receivable again. Service Bus default: 30 s. */
  readonly lockDurationMs: number;
}

export type SettleResult = { ok: true } | { ok: false; reason: 'lock-lost' | 'no-dead-letter-queue' };

interface Lock<Payload> {
  readonly message: StoredMessage<Payload>;
  lockedUntilMs: number;
  timer: NodeJS.Timeout;
}

/**
 * One receivable entity: a queue, a subscription, or a dead-letter subqueue. Messages are handed out in
 * sequence-number order; an abandoned or expired message goes back to its place in that order.
 */
export class MessageEntity<Payload> {
  private readonly available: StoredMessage<Payload>[] = [];
  private readonly locks = new Map<string, Lock<Payload>>();
  private readonly listeners = new Set<() => void>();

  /**
   * @param path canonical entity path, e.g. `orders`, `orders/$DeadLetterQueue`, `events/Subscriptions/audit`
   * @param deadLetterQueue where rejected and exhausted messages go; undefined for a dead-letter subqueue itself
   */
  constructor(
    readonly path: string,
    private readonly limits: EntityLimits,
    readonly deadLetterQueue: MessageEntity<Payload> | undefined,
  ) {}

  /** Called whenever a message becomes receivable, so the peer can hand it to a waiting link. */
  onAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get availableCount(): number {
    return this.available.length;
  }

  get lockedCount(): number {
    return this.locks.size;
  }

  enqueue(message: StoredMessage<Payload>): void {
    this.insertInOrder(message);
    this.notify();
  }

  /** Receive-and-delete: the message leaves the entity as it is handed out. */
  take(): StoredMessage<Payload> | undefined {
    return this.available.shift();
  }

  /** Peek-lock: the message stays owned by the entity, invisible to other receivers until settled or expired. */
  lockNext(now: number = Date.now()): LockedMessage<Payload> | undefined {
    const message = this.available.shift();
    if (message === undefined) return undefined;
    const lockToken = randomUUID();
    const lockedUntilMs = now + this.limits.lockDurationMs;
    const timer = setTimeout(() => this.expireLock(lockToken), this.limits.lockDurationMs);
    this.locks.set(lockToken, { message, lockedUntilMs, timer });
    return { message, lockToken, lockedUntilUtc: new Date(lockedUntilMs) };
  }

  complete(lockToken: string): SettleResult {
    const lock = this.releaseLock(lockToken);
    return lock === undefined ? { ok: false, reason: 'lock-lost' } : { ok: true };
  }

  /**
   * Returns the message for redelivery. `countAsFailedDelivery` is false only for AMQP `released`, which
   * says the receiver never tried to process it.
   */
  abandon(
    lockToken: string,
    propertiesToModify: Record<string, unknown> = {},
    countAsFailedDelivery = true,
  ): SettleResult {
    const lock = this.releaseLock(lockToken);
    if (lock === undefined) return { ok: false, reason: 'lock-lost' };
    Object.assign(lock.message.brokerApplicationProperties, propertiesToModify);
    this.returnOrDeadLetter(lock.message, countAsFailedDelivery);
    return { ok: true };
  }

  deadLetter(
    lockToken: string,
    reason: string | undefined,
    description: string | undefined,
    propertiesToModify: Record<string, unknown> = {},
  ): SettleResult {
    const lock = this.locks.get(lockToken);
    if (lock === undefined) return { ok: false, reason: 'lock-lost' };
    if (this.deadLetterQueue === undefined) return { ok: false, reason: 'no-dead-letter-queue' };
    this.releaseLock(lockToken);
    this.moveToDeadLetter(lock.message, reason, description, propertiesToModify);
    return { ok: true };
  }

  /** Extends a lock by the entity's lock duration from now; undefined when the lock is gone. */
  renewLock(lockToken: string, now: number = Date.now()): Date | undefined {
    const lock = this.locks.get(lockToken);
    if (lock === undefined) return undefined;
    clearTimeout(lock.timer);
    lock.lockedUntilMs = now + this.limits.lockDurationMs;
    lock.timer = setTimeout(() => this.expireLock(lockToken), this.limits.lockDurationMs);
    return new Date(lock.lockedUntilMs);
  }

  /**
   * Messages with sequence number >= `fromSequenceNumber`, locked ones included (Service Bus peek shows them
   * too), in sequence order.
   */
  peek(
    fromSequenceNumber: number,
    maxCount: number,
  ): { message: StoredMessage<Payload>; lockedUntilUtc?: Date }[] {
    const all: { message: StoredMessage<Payload>; lockedUntilUtc?: Date }[] = this.available.map(
      (message) => ({
        message,
      }),
    );
    for (const lock of this.locks.values()) {
      all.push({ message: lock.message, lockedUntilUtc: new Date(lock.lockedUntilMs) });
    }
    return all
      .filter((entry) => entry.message.sequenceNumber >= fromSequenceNumber)
      .sort((a, b) => a.message.sequenceNumber - b.message.sequenceNumber)
      .slice(0, maxCount);
  }

  /** Stops every lock timer; the entity is unusable afterwards. */
  dispose(): void {
    for (const lock of this.locks.values()) clearTimeout(lock.timer);
    this.locks.clear();
    this.available.length = 0;
    this.listeners.clear();
  }

  private expireLock(lockToken: string): void {
    const lock = this.releaseLock(lockToken);
    if (lock !== undefined) this.returnOrDeadLetter(lock.message, true);
  }

  private releaseLock(lockToken: string): Lock<Payload> | undefined {
    const lock = this.locks.get(lockToken);
    if (lock === undefined) return undefined;
    clearTimeout(lock.timer);
    this.locks.delete(lockToken);
    return lock;
  }

  private returnOrDeadLetter(message: StoredMessage<Payload>, countAsFailedDelivery: boolean): void {
    if (countAsFailedDelivery) message.deliveryCount += 1;
    if (
      countAsFailedDelivery &&
      this.deadLetterQueue !== undefined &&
      message.deliveryCount >= this.limits.maxDeliveryCount
    ) {
      this.moveToDeadLetter(
        message,
        MAX_DELIVERY_COUNT_EXCEEDED,
        `Message could not be consumed after ${this.limits.maxDeliveryCount} delivery attempts.`,
        {},
      );
      return;
    }
    this.enqueue(message);
  }

  private moveToDeadLetter(
    message: StoredMessage<Payload>,
    reason: string | undefined,
    description: string | undefined,
    propertiesToModify: Record<string, unknown>,
  ): void {
    const deadLetterQueue = this.deadLetterQueue;
    if (deadLetterQueue === undefined) throw new Error(`${this.path} has no dead-letter subqueue`);
    Object.assign(message.brokerApplicationProperties, propertiesToModify);
    if (reason !== undefined) message.brokerApplicationProperties['DeadLetterReason'] = reason;
    if (description !== undefined)
      message.brokerApplicationProperties['DeadLetterErrorDescription'] = description;
    deadLetterQueue.enqueue(message);
  }

  private insertInOrder(message: StoredMessage<Payload>): void {
    let index = this.available.length;
    while (index > 0 && (this.available[index - 1]?.sequenceNumber ?? 0) > message.sequenceNumber) index -= 1;
    this.available.splice(index, 0, message);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

export interface NamespaceEntities {
  /** Queue names. */
  readonly queues: readonly string[];
  /** Topic name → its subscription names. */
  readonly topics: Readonly<Record<string, readonly string[]>>;
}

/** What an AMQP address names. */
export type ResolvedAddress<Payload> =
  | { kind: 'receivable'; entity: MessageEntity<Payload> }
  | { kind: 'topic'; name: string; subscriptions: MessageEntity<Payload>[] }
  | { kind: 'unknown' };

export type SendFailure = { ok: false; reason: 'not-found' | 'not-allowed' };
export type SendResult = { ok: true; sequenceNumber: number } | SendFailure;

const DEAD_LETTER_SUFFIX = '/$DeadLetterQueue';

function scheduledKey(target: string, sequenceNumber: number): string {
  return `${target}#${sequenceNumber}`;
}

/**
 * The namespace: every entity by canonical path. Lookups are case-insensitive, as in Service Bus.
 */
export class Namespace<Payload> {
  private readonly receivables = new Map<string, MessageEntity<Payload>>();
  private readonly topics = new Map<string, { name: string; subscriptions: MessageEntity<Payload>[] }>();
  private readonly sequenceByTarget = new Map<string, number>();
  private readonly scheduled = new Map<string, NodeJS.Timeout>();

  constructor(entities: NamespaceEntities, limits: EntityLimits) {
    const addReceivable = (path: string): MessageEntity<Payload> => {
      const deadLetter = new MessageEntity<Payload>(`${path}${DEAD_LETTER_SUFFIX}`, limits, undefined);
      const entity = new MessageEntity<Payload>(path, limits, deadLetter);
      this.receivables.set(path.toLowerCase(), entity);
      this.receivables.set(deadLetter.path.toLowerCase(), deadLetter);
      return entity;
    };
    for (const queue of entities.queues) {
      if (this.receivables.has(queue.toLowerCase())) throw new Error(`duplicate queue ${queue}`);
      addReceivable(queue);
    }
    for (const [topic, subscriptionNames] of Object.entries(entities.topics)) {
      if (this.receivables.has(topic.toLowerCase()) || this.topics.has(topic.toLowerCase())) {
        throw new Error(`topic ${topic} clashes with another entity name`);
      }
      const subscriptions = subscriptionNames.map((name) => addReceivable(`${topic}/Subscriptions/${name}`));
      this.topics.set(topic.toLowerCase(), { name: topic, subscriptions });
    }
  }

  resolve(address: string): ResolvedAddress<Payload> {
    const path = normalizeAddress(address).toLowerCase();
    const entity = this.receivables.get(path);
    if (entity !== undefined) return { kind: 'receivable', entity };
    const topic = this.topics.get(path);
    if (topic !== undefined) return { kind: 'topic', ...topic };
    return { kind: 'unknown' };
  }

  /**
   * Enqueues a sent message on a queue, or a copy on each subscription of a topic; with `scheduledFor` in the
   * future, at that time instead. The sequence number is assigned now either way (it is what cancels a
   * scheduled message). Dead-letter subqueues and subscriptions cannot be sent to, as in Service Bus.
   * Subscriptions share the payload: the broker never mutates it.
   */
  send(address: string, payload: Payload, scheduledFor?: Date): SendResult {
    const target = this.sendTarget(address);
    if (!target.ok) return target;
    const sequenceNumber = (this.sequenceByTarget.get(target.key) ?? 0) + 1;
    this.sequenceByTarget.set(target.key, sequenceNumber);
    const enqueue = (): void => {
      const enqueuedTimeUtc = new Date();
      for (const destination of target.destinations) {
        destination.enqueue({
          sequenceNumber,
          enqueuedTimeUtc,
          payload,
          brokerApplicationProperties: {},
          deliveryCount: 0,
        });
      }
    };
    const delayMs = scheduledFor === undefined ? 0 : scheduledFor.getTime() - Date.now();
    if (delayMs <= 0) {
      enqueue();
    } else {
      const timer = setTimeout(() => {
        this.scheduled.delete(scheduledKey(target.key, sequenceNumber));
        enqueue();
      }, delayMs);
      this.scheduled.set(scheduledKey(target.key, sequenceNumber), timer);
    }
    return { ok: true, sequenceNumber };
  }

  /** Cancels scheduled messages by the sequence numbers `send` returned; unknown numbers are an error. */
  cancelScheduled(address: string, sequenceNumbers: readonly number[]): { ok: true } | SendFailure {
    const target = this.sendTarget(address);
    if (!target.ok) return target;
    const keys = sequenceNumbers.map((sequenceNumber) => scheduledKey(target.key, sequenceNumber));
    if (keys.some((key) => !this.scheduled.has(key))) return { ok: false, reason: 'not-found' };
    for (const key of keys) {
      clearTimeout(this.scheduled.get(key));
      this.scheduled.delete(key);
    }
    return { ok: true };
  }

  private sendTarget(
    address: string,
  ): { ok: true; key: string; destinations: MessageEntity<Payload>[] } | SendFailure {
    const target = this.resolve(address);
    if (target.kind === 'unknown') return { ok: false, reason: 'not-found' };
    if (target.kind === 'topic') return { ok: true, key: target.name, destinations: target.subscriptions };
    const entity = target.entity;
    if (entity.deadLetterQueue === undefined || entity.path.includes('/Subscriptions/')) {
      return { ok: false, reason: 'not-allowed' };
    }
    return { ok: true, key: entity.path, destinations: [entity] };
  }

  dispose(): void {
    for (const timer of this.scheduled.values()) clearTimeout(timer);
    this.scheduled.clear();
    for (const entity of this.receivables.values()) entity.dispose();
  }
}

/** Accepts `queue`, `/queue` and `sb://host/queue`, the forms AMQP clients put in link addresses. */
export function normalizeAddress(address: string): string {
  const withoutScheme = address.replace(/^[a-z]+:\/\/[^/]+\//i, '');
  return withoutScheme.replace(/^\/+/, '').replace(/\/+$/, '');
}
