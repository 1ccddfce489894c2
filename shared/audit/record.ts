/**
 * The audit record of one prediction: enough for an auditor to answer "why was item X classified Y on date Z,
 * by which model, trained on which data" and to replay it. The raw description is not stored (it may carry
 * commercial detail); its sha256 and the normalised text, which is all the model saw, are.
 */
import { createHash } from 'node:crypto';
import type { Decision, Explanation, RankedCode, RolledUpCode } from '../inference/classify';

export const AUDIT_RECORD_VERSION = 1;

export interface AuditCaller {
  /** `x-caller-id` header, when the integrating system names itself. */
  readonly callerId: string | null;
  /** Client address as the host saw it (first `x-forwarded-for` entry). */
  readonly clientAddress: string | null;
  /** The invocation that served the request. */
  readonly invocationId: string;
}

export interface PredictionRecord {
  /** The prediction id (Cosmos id and partition key). */
  readonly id: string;
  readonly recordVersion: typeof AUDIT_RECORD_VERSION;
  readonly createdAt: string;
  readonly caller: AuditCaller;
  /** Caller's item id, if it sent one. */
  readonly itemId: string | null;
  /** sha256 of the description exactly as received (UTF-8). */
  readonly inputHash: string;
  readonly normalizedText: string;
  readonly context: Readonly<Record<string, unknown>> | null;
  readonly modelVersion: string;
  readonly packageHash: string;
  /** Experiment arm that served it ('champion' when no experiment runs). */
  readonly arm: string;
  /**
   * The experiment the prediction belongs to, null outside experiments. Absent on records written before
   * experiments reached serving.
   */
  readonly experimentId?: string | null;
  readonly options: { readonly topK: number; readonly explain: boolean };
  readonly codes: readonly RankedCode[];
  readonly heading: RolledUpCode;
  readonly chapter: RolledUpCode;
  readonly decision: Decision;
  readonly explanation: Explanation | null;
  /** Request latency in milliseconds (encode + ONNX + post-processing for the whole batch), and batch size. */
  readonly latency: { readonly totalMs: number; readonly batchSize: number };
}

export function hashInput(description: string): string {
  return createHash('sha256').update(description, 'utf8').digest('hex');
}
