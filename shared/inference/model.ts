/**
 * A loaded, verified model ready to serve: its ONNX session (created once, reused by every request), the encoder
 * it was trained with, and the label tables that post-processing needs, all derived once at load.
 */
import * as ort from 'onnxruntime-node';
import type { Nomenclature } from '../hs/nomenclature';
import { describeLabel } from '../hs/labels';
import { readModelPackage, type ModelPackage, type PackageFiles } from '../model-package/package';
import type { ModelManifest } from '../model-package/manifest';
import { encoderFromDescriptor, type TextEncoderConfig } from '../text/encoder';
import type { OnnxIds } from './features';

/** Session settings; the defaults were chosen by `bench/serve.ts` on a 2-core machine. */
export interface SessionTuning {
  /** Threads one ONNX run may use. Default 1: on 2 cores, parallel requests beat parallel kernels. */
  readonly intraOpThreads: number;
  /** Graph optimisation level. Default 'all'. */
  readonly graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export const DEFAULT_SESSION_TUNING: SessionTuning = Object.freeze({
  intraOpThreads: 1,
  graphOptimization: 'all',
});

export interface ServingModel {
  readonly manifest: ModelManifest;
  readonly modelVersion: string;
  readonly packageHash: string;
  readonly location: string;
  readonly encoder: TextEncoderConfig;
  /** Class codes in logit order. */
  readonly codes: readonly string[];
  /** Nomenclature description of each class (undefined when not even its chapter is listed). */
  readonly descriptions: readonly (string | undefined)[];
  /** Whether each class is a listed HS 2022 code; an unlisted one can never be decided automatically. */
  readonly listed: readonly boolean[];
  readonly headings: readonly string[];
  readonly headingDescriptions: readonly (string | undefined)[];
  readonly headingOfClass: Int32Array;
  readonly chapters: readonly string[];
  readonly chapterDescriptions: readonly (string | undefined)[];
  readonly chapterOfClass: Int32Array;
  /** Milliseconds the load took (download excluded), session creation and warm-up included. */
  readonly loadMs: number;
  /** Logits [rows, classes] of one batch. */
  run(input: OnnxIds): Promise<Float32Array>;
  release(): Promise<void>;
}

function groupsOf(codes: readonly string[], digits: number): { names: string[]; ofClass: Int32Array } {
  const index = new Map<string, number>();
  const ofClass = new Int32Array(codes.length);
  codes.forEach((code, c) => {
    const group = code.slice(0, digits);
    let g = index.get(group);
    if (g === undefined) {
      g = index.size;
      index.set(group, g);
    }
    ofClass[c] = g;
  });
  return { names: [...index.keys()], ofClass };
}

export function sessionOptions(tuning: SessionTuning): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: tuning.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: tuning.graphOptimization,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
}

/** Creates the session and runs one warm-up batch, so the first real request pays no lazy initialisation. */
export async function loadServingModel(
  pkg: ModelPackage,
  nomenclature: Nomenclature,
  tuning: SessionTuning = DEFAULT_SESSION_TUNING,
): Promise<ServingModel> {
  const started = performance.now();
  const { manifest } = pkg;
  const encoder = encoderFromDescriptor(manifest.encoder);
  const graph = pkg.files.get(manifest.onnx.file);
  if (graph === undefined) throw new Error(`${pkg.location}: ${manifest.onnx.file} was not read`);
  const session = await ort.InferenceSession.create(graph, sessionOptions(tuning));
  const outputName = manifest.onnx.logits;
  if (!session.outputNames.includes(outputName) || !session.inputNames.includes(manifest.onnx.input)) {
    await session.release();
    throw new Error(
      `${pkg.location}: the graph has inputs [${session.inputNames.join(', ')}] and outputs ` +
        `[${session.outputNames.join(', ')}], the manifest names '${manifest.onnx.input}' and '${outputName}'`,
    );
  }
  const codes = manifest.labels.codes;
  const classes = codes.length;
  const run = async (input: OnnxIds): Promise<Float32Array> => {
    const feeds = { [manifest.onnx.input]: new ort.Tensor('int64', input.ids, input.dims) };
    const output = await session.run(feeds, [outputName]);
    const logits = output[outputName];
    if (logits === undefined || !(logits.data instanceof Float32Array)) {
      throw new Error(`${pkg.location}: output '${outputName}' is not a float32 tensor`);
    }
    if (logits.data.length !== (input.dims[0] ?? 0) * classes) {
      throw new Error(
        `${pkg.location}: output '${outputName}' has ${logits.data.length} values for ${input.dims[0]} rows ` +
          `of ${classes} classes (labels.codes does not match the graph)`,
      );
    }
    return logits.data;
  };
  const warmUpDims =
    manifest.arch.inputLayout === 'token_grid' ? [1, encoder.maxTokens, manifest.onnx.perToken ?? 1] : [1, 1];
  try {
    await run({ ids: new BigInt64Array(warmUpDims.reduce((a, b) => a * b, 1)), dims: warmUpDims });
  } catch (error: unknown) {
    await session.release();
    throw error;
  }
  const headings = groupsOf(codes, 4);
  const chapters = groupsOf(codes, 2);
  return {
    manifest,
    modelVersion: manifest.modelVersion,
    packageHash: pkg.packageHash,
    location: pkg.location,
    encoder,
    codes,
    descriptions: codes.map((code) => describeLabel(code, nomenclature)),
    listed: codes.map((code) => nomenclature.isValid(code.slice(0, 6), 6) || nomenclature.isValid(code, 4)),
    headings: headings.names,
    headingDescriptions: headings.names.map((code) => nomenclature.describe(code)),
    headingOfClass: headings.ofClass,
    chapters: chapters.names,
    chapterDescriptions: chapters.names.map((code) => nomenclature.describe(code)),
    chapterOfClass: chapters.ofClass,
    loadMs: performance.now() - started,
    run,
    release: () => session.release(),
  };
}

/** Reads, verifies and loads a package. */
export async function loadModelFrom(
  files: PackageFiles,
  nomenclature: Nomenclature,
  tuning?: SessionTuning,
): Promise<ServingModel> {
  return loadServingModel(await readModelPackage(files), nomenclature, tuning);
}
