/**
 * Typed access to the parts of rhea the peer needs that its typings leave as `any` (decoded messages,
 * delivery outcomes) or do not declare (the outcome constructors, a link's local attach frame).
 * Everything untyped enters through `unknown` here and is narrowed before use.
 */
import {
  message as rheaMessage,
  string_to_uuid,
  types,
  uuid_to_string,
  type Receiver,
  type Sender,
} from 'rhea';

export type AmqpRecord = Record<string, unknown>;

export function asRecord(value: unknown): AmqpRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
    ? (value as AmqpRecord)
    : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  // rhea hands 64-bit integers that do not fit a double's exact range over as big-endian buffers.
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE(0));
  return undefined;
}

/** Decodes an AMQP message into its own enumerable fields (rhea's decoded object also carries methods). */
export function decodeMessage(encoded: Buffer): AmqpRecord {
  const decoded: unknown = rheaMessage.decode(encoded);
  return { ...asRecord(decoded) };
}

export function encodeMessage(fields: AmqpRecord): Buffer {
  return rheaMessage.encode(fields);
}

/** Sends a message given as plain fields (rhea's `Message` type wants its methods too, so send it encoded). */
export function sendMessage(sender: Sender, fields: AmqpRecord, tag?: Buffer): void {
  sender.send(encodeMessage(fields), tag, 0);
}

/**
 * The messages inside a Service Bus batch (message format 0x80013700): an envelope whose data sections each
 * hold one complete encoded message.
 */
export function decodeBatch(encodedEnvelope: Buffer): AmqpRecord[] {
  const envelope = decodeMessage(encodedEnvelope);
  const body = asRecord(envelope['body']);
  if (body === undefined || body['typecode'] !== 0x75) {
    throw new Error('batch envelope has no data sections');
  }
  const content: unknown = body['content'];
  const sections: unknown[] = body['multiple'] === true && Array.isArray(content) ? content : [content];
  return sections.map((section) => {
    if (!Buffer.isBuffer(section)) throw new Error('batch data section is not binary');
    return decodeMessage(section);
  });
}

export function wrapLong(value: number): unknown {
  return types.wrap_long(value);
}

/** An AMQP array of longs (the SDK sends and expects sequence numbers in that form). */
export function wrapLongArray(values: readonly number[]): unknown {
  return types.wrap_array(values, 0x81, undefined);
}

/**
 * Service Bus writes a lock token into the delivery tag in .NET `Guid` byte order (first three fields
 * little-endian), and the SDK swaps them back before printing the token. The swap is its own inverse.
 */
function swapGuidByteOrder(bytes: Buffer): Buffer {
  if (bytes.length !== 16) throw new Error(`a lock token is 16 bytes, got ${bytes.length}`);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((index) => bytes[index] ?? 0));
}

export function lockTokenToDeliveryTag(lockToken: string): Buffer {
  return swapGuidByteOrder(string_to_uuid(lockToken));
}

export function deliveryTagToLockToken(tag: Buffer | string): string {
  return uuid_to_string(swapGuidByteOrder(typeof tag === 'string' ? Buffer.from(tag) : tag));
}

interface OutcomeFactory {
  accepted(): { described(): unknown };
  released(): { described(): unknown };
  modified(fields: { undeliverable_here: boolean; delivery_failed: boolean }): { described(): unknown };
  rejected(fields: { error?: { condition: string; description: string } }): { described(): unknown };
}

// The outcome constructors exist at runtime (lib/message.js defines them) but rhea's typings omit them.
const outcomes = rheaMessage as unknown as OutcomeFactory;

/** A `rejected` outcome to settle a delivery with, which the Service Bus SDK turns into a typed error. */
export function rejectedOutcome(condition: string, description: string): unknown {
  return outcomes.rejected({ error: { condition, description } }).described();
}

/**
 * The outcome the broker settles with after applying the receiver's outcome: the same kind, without an
 * error, which the SDK reads as success.
 */
export function confirmedOutcome(outcome: Outcome): unknown {
  switch (outcome.kind) {
    case 'accepted':
      return outcomes.accepted().described();
    case 'released':
      return outcomes.released().described();
    case 'modified':
      return outcomes
        .modified({ undeliverable_here: outcome.undeliverableHere, delivery_failed: outcome.deliveryFailed })
        .described();
    case 'rejected':
      return outcomes.rejected({}).described();
  }
}

/** The outcome a receiver chose, narrowed from the untyped `remote_state` of a delivery. */
export type Outcome =
  | { kind: 'accepted' }
  | { kind: 'rejected'; condition?: string; description?: string; info: AmqpRecord }
  | { kind: 'released' }
  | { kind: 'modified'; undeliverableHere: boolean; deliveryFailed: boolean; annotations: AmqpRecord };

export function readOutcome(remoteState: unknown): Outcome | undefined {
  const state = asRecord(remoteState);
  if (state === undefined) return undefined;
  // rhea's is_accepted() and friends test the wire form; a delivery's remote_state is already unwrapped into
  // an outcome object whose class carries the outcome's name.
  const outcomeClass: unknown = state.constructor;
  const outcomeName =
    typeof outcomeClass === 'function'
      ? (outcomeClass as { composite_type?: unknown }).composite_type
      : undefined;
  switch (outcomeName) {
    case 'accepted':
      return { kind: 'accepted' };
    case 'released':
      return { kind: 'released' };
    case 'rejected': {
      const error = asRecord(state['error']);
      return {
        kind: 'rejected',
        condition: asString(error?.['condition']),
        description: asString(error?.['description']),
        info: asRecord(error?.['info']) ?? {},
      };
    }
    case 'modified':
      return {
        kind: 'modified',
        undeliverableHere: state['undeliverable_here'] === true,
        deliveryFailed: state['delivery_failed'] === true,
        annotations: asRecord(state['message_annotations']) ?? {},
      };
    default:
      return undefined;
  }
}

/** Credit the receiver has granted and rhea has not yet spent on written transfers (untyped in rhea). */
export function linkCredit(sender: Sender): number {
  const credit: unknown = (sender as unknown as { credit?: unknown }).credit;
  return typeof credit === 'number' ? credit : 0;
}

interface DrainState {
  _draining: boolean;
  _drained: boolean;
  credit: number;
  delivery_count: number;
  _get_drain: () => boolean;
}

/**
 * Makes a sender answer every drain request with a drain flow. rhea's sender answers only while it still
 * holds credit; when the receiver asks to drain while the peer's last transfers are on the wire, the peer's
 * credit is already zero, no answer goes out, and the SDK waits for `receiver_drained` until its timeout and
 * then closes the link (losing the locks it holds). Per AMQP a drain is answered in any case.
 */
export function answerEveryDrain(sender: Sender): void {
  const state = sender as unknown as DrainState;
  state._get_drain = () => {
    if (!state._draining || !state._drained) return false;
    state.delivery_count += state.credit;
    state.credit = 0;
    return true;
  };
}

interface LocalAttach {
  local: { attach: { snd_settle_mode?: number; max_message_size?: number } };
}

/**
 * Sets fields of the attach frame the peer answers a client's attach with. rhea opens peer-initiated links
 * with default fields and writes the frame on the next tick, so setting them in the open event is in time.
 * The settle mode must mirror the client's: rhea marks transfers pre-settled only when its own attach says so,
 * and receive-and-delete receivers ask for exactly that.
 */
export function setLocalAttachFields(
  link: Sender | Receiver,
  fields: { sndSettleMode?: number; maxMessageSize?: number },
): void {
  const attach = (link as unknown as LocalAttach).local.attach;
  if (fields.sndSettleMode !== undefined) attach.snd_settle_mode = fields.sndSettleMode;
  if (fields.maxMessageSize !== undefined) attach.max_message_size = fields.maxMessageSize;
}
