/**
 * Retraining pipeline records (Cosmos `pipelines`, partition `/id`). One `pipeline` item per run says what
 * started it, on which dataset, and how it ended (candidates, gate verdict, challenger); one `candidate-progress`
 * item per training candidate is overwritten by its activity after each stage and epoch, so progress is visible
 * while an activity runs (an orchestration's custom status only changes between activities). Each candidate has
 * its own item, so parallel activities never contend for one document.
 */
import type { Container } from '@azure/cosmos';
import { getPlatformClients } from '../platform/clients';
import { COSMOS_CONTAINERS } from '../platform/resources';

export type PipelineTriggerSource = 'dataset' | 'http' | 'drift' | 'schedule';

export interface PipelineTrigger {
  readonly source: PipelineTriggerSource;
  /** Who or what asked: an ingestion id, an alert id, a user. */
  readonly ref: string;
  readonly reason: string;
}

export type PipelineStatus = 'running' | 'completed' | 'gate-failed' | 'failed';

export interface CandidateSummary {
  readonly candidateId: string;
  readonly arch: string;
  /** Tuning trial id, or null for an architecture's default settings. */
  readonly trial: number | null;
  readonly modelVersion: string;
  readonly hyperParameters: Readonly<Record<string, unknown>>;
  readonly seed: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly modelHash: string;
  readonly packageHash: string;
}

export interface GateCheck {
  readonly name: string;
  readonly support: number;
  /** Candidate accuracy minus champion accuracy, with its paired bootstrap interval. */
  readonly difference: number;
  readonly lower: number;
  readonly upper: number;
  readonly tolerance: number;
  readonly passed: boolean;
}

export interface GateVerdict {
  readonly passed: boolean;
  readonly champion: string | null;
  readonly reasons: readonly string[];
  readonly checks: readonly GateCheck[];
  /** Share of test rows where the uploaded package's ONNX top-1 agrees with training's. */
  readonly parityAgreement: number;
}

export interface PipelineRecord {
  readonly id: string;
  readonly kind: 'pipeline';
  readonly trigger: PipelineTrigger;
  readonly datasetVersion: string;
  readonly datasetHash: string;
  readonly seed: number;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly status: PipelineStatus;
  readonly stage: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly candidates: readonly CandidateSummary[];
  readonly winner: string | null;
  readonly gate: GateVerdict | null;
  readonly challenger: string | null;
  readonly experimentId: string | null;
  readonly error: string | null;
  /** Wall seconds per stage, for the pipeline benchmark. */
  readonly stageSeconds: Readonly<Record<string, number>>;
}

export interface CandidateProgress {
  readonly id: string;
  readonly kind: 'candidate-progress';
  readonly pipelineId: string;
  readonly candidateId: string;
  readonly arch: string;
  readonly trial: number | null;
  readonly stage: string;
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number | null;
  readonly validationAccuracy: number | null;
  /** True when this attempt resumed from a checkpoint. */
  readonly resumed: boolean;
  /** The epoch of the checkpoint this attempt resumed from (training goes on with the next one). Absent when the
   * attempt started from scratch, or when the checkpoint does not say. */
  readonly resumedFromEpoch?: number;
  readonly updatedAt: string;
}

export function candidateProgressId(pipelineId: string, candidateId: string): string {
  return `${pipelineId}--${candidateId}`;
}

function strip<T extends object>(item: T): T {
  return Object.fromEntries(Object.entries(item).filter(([key]) => !key.startsWith('_'))) as T;
}

export class PipelineStore {
  constructor(private readonly container: Container) {}

  async save(record: PipelineRecord): Promise<void> {
    await this.container.items.upsert(record);
  }

  async get(id: string): Promise<PipelineRecord | undefined> {
    const { resource } = await this.container.item(id, id).read<PipelineRecord>();
    return resource?.kind === 'pipeline' ? strip(resource) : undefined;
  }

  /** Newest first. */
  async list(limit = 100): Promise<PipelineRecord[]> {
    const { resources } = await this.container.items
      .query<PipelineRecord>({
        query: "SELECT * FROM p WHERE p.kind = 'pipeline'",
      })
      .fetchAll();
    return resources
      .map(strip)
      .sort((a, b) =>
        a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id.localeCompare(b.id),
      )
      .slice(0, limit);
  }

  async writeProgress(progress: CandidateProgress): Promise<void> {
    await this.container.items.upsert(progress);
  }

  async progress(pipelineId: string): Promise<CandidateProgress[]> {
    const { resources } = await this.container.items
      .query<CandidateProgress>({
        query: "SELECT * FROM p WHERE p.kind = 'candidate-progress' AND p.pipelineId = @id",
        parameters: [{ name: '@id', value: pipelineId }],
      })
      .fetchAll();
    return resources.map(strip).sort((a, b) => a.candidateId.localeCompare(b.candidateId));
  }
}

/** The store on the process-wide clients, for function handlers. */
export function getPipelineStore(): PipelineStore {
  return new PipelineStore(getPlatformClients().database.container(COSMOS_CONTAINERS.pipelines.id));
}
