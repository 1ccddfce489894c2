/**
 * ONNX exporters for the bag architectures. The graph reproduces the TypeScript forward pass exactly:
 *   ids int64 [batch, features] (0 = padding, the encoder's packBags layout)
 *   → Gather(table) → ReduceSum over features → × 1/n (mean pooling) or 1/sqrt(n)
 *   → [Gemm + Relu]* → Gemm → logits, Softmax → probabilities.
 * The padding row of every table is zero, so gathering it adds nothing; n counts non-padding ids.
 */
import { EncoderDescriptor } from '../../shared/text/encoder';
import { BagNetwork, LinearModel } from '../models';
import { GraphBuilder } from './graph';

export interface ExportMetadata {
  /** The encoder the model was trained with; serving rebuilds it from here. */
  encoder: EncoderDescriptor;
  /** Class names (HS codes) in logit order. */
  classNames: readonly string[];
  /** Free-form provenance (dataset version, training run id). */
  extra?: Record<string, string>;
}

export const INPUT_NAME = 'ids';
export const LOGITS_NAME = 'logits';
export const PROBABILITIES_NAME = 'probabilities';

/**
 * Pooled bag [batch, dim] of the `ids` input. `prefix` keeps initializer names apart when several models share
 * one graph (an ensemble); single models use none, so their graphs keep the names they always had.
 */
function bagInput(
  g: GraphBuilder,
  ids: string,
  table: Float32Array,
  rows: number,
  dim: number,
  mode: 'mean' | 'sqrt',
  featureWeights: Float32Array | null,
  prefix: string,
): string {
  if (featureWeights) return weightedBagInput(g, ids, table, rows, dim, mode, featureWeights, prefix);
  const mask = g.op(
    'Cast',
    [g.op('Greater', [ids, g.initializer(`${prefix}zero_id`, BigInt64Array.of(0n), [])])],
    {
      to: 1,
    },
  );
  const axis1 = g.int64(`${prefix}axis1`, [1]);
  const count = g.op('Max', [
    g.op('ReduceSum', [mask, axis1], { keepdims: 1 }),
    g.scalarFloat(`${prefix}one`, 1),
  ]);
  const scale = g.op('Reciprocal', [mode === 'mean' ? count : g.op('Sqrt', [count])]);
  const gathered = g.op('Gather', [g.initializer(`${prefix}table`, table, [rows, dim]), ids], { axis: 0 });
  return g.op('Mul', [g.op('ReduceSum', [gathered, axis1], { keepdims: 0 }), scale]);
}

/**
 * Weighted pooling: w = Gather(weights, ids) [batch, features] (padding weighs 0), rows scaled by w, summed, and
 * normalised by sqrt(Σ w²) or Σ w (an empty bag sums zero rows; the Max only keeps its scale finite).
 */
function weightedBagInput(
  g: GraphBuilder,
  ids: string,
  table: Float32Array,
  rows: number,
  dim: number,
  mode: 'mean' | 'sqrt',
  featureWeights: Float32Array,
  prefix: string,
): string {
  const axis1 = g.int64(`${prefix}axis1`, [1]);
  const weights = g.op('Gather', [g.initializer(`${prefix}feature_weights`, featureWeights, [rows]), ids], {
    axis: 0,
  });
  const total = g.op('ReduceSum', [mode === 'sqrt' ? g.op('Mul', [weights, weights]) : weights, axis1], {
    keepdims: 1,
  });
  const norm = g.op('Max', [total, g.scalarFloat(`${prefix}tiny`, 1e-30)]);
  const scale = g.op('Reciprocal', [mode === 'sqrt' ? g.op('Sqrt', [norm]) : norm]);
  const gathered = g.op('Gather', [g.initializer(`${prefix}table`, table, [rows, dim]), ids], { axis: 0 });
  const weighted = g.op('Mul', [gathered, g.op('Unsqueeze', [weights, g.int64(`${prefix}axis_last`, [2])])]);
  return g.op('Mul', [g.op('ReduceSum', [weighted, axis1], { keepdims: 0 }), scale]);
}

/** Adds the `logits` and `probabilities` outputs and the metadata every exported classifier carries. */
export function finishClassifierGraph(
  g: GraphBuilder,
  logits: string,
  classes: number,
  metadata: ExportMetadata,
  modelConfig: object,
): Uint8Array {
  if (metadata.classNames.length !== classes) {
    throw new Error(`export: ${metadata.classNames.length} class names for ${classes} classes`);
  }
  g.op('Identity', [logits], {}, LOGITS_NAME);
  g.op('Softmax', [logits], { axis: -1 }, PROBABILITIES_NAME);
  g.output(LOGITS_NAME, 'float32', ['batch', classes]);
  g.output(PROBABILITIES_NAME, 'float32', ['batch', classes]);
  return g.toBytes({
    encoder: JSON.stringify(metadata.encoder),
    classes: JSON.stringify(metadata.classNames),
    model: JSON.stringify(modelConfig),
    ...metadata.extra,
  });
}

function linearLogits(g: GraphBuilder, ids: string, model: LinearModel, prefix: string): string {
  const { rows, classes } = model.config;
  const bagged = bagInput(g, ids, model.weight.value, rows, classes, 'sqrt', model.featureWeights, prefix);
  return g.op('Add', [bagged, g.initializer(`${prefix}bias`, model.bias.value, [classes])]);
}

function bagNetworkLogits(g: GraphBuilder, ids: string, model: BagNetwork, prefix: string): string {
  const { rows, dim, classes } = model.config;
  let current = bagInput(
    g,
    ids,
    model.embedding.value,
    rows,
    dim,
    model.config.pooling ?? 'sqrt',
    model.featureWeights,
    prefix,
  );
  model.layers.forEach((layer, index) => {
    const w = g.initializer(`${prefix}hidden${index}_weight`, layer.weight.value, [
      layer.inputs,
      layer.outputs,
    ]);
    const b = g.initializer(`${prefix}hidden${index}_bias`, layer.bias.value, [layer.outputs]);
    current = g.op('Relu', [g.op('Gemm', [current, w, b])]);
  });
  const w = g.initializer(`${prefix}output_weight`, model.weight.value, [model.inputs, classes]);
  const b = g.initializer(`${prefix}output_bias`, model.bias.value, [classes]);
  return g.op('Gemm', [current, w, b]);
}

function modelLogits(g: GraphBuilder, ids: string, model: LinearModel | BagNetwork, prefix: string): string {
  return model instanceof LinearModel
    ? linearLogits(g, ids, model, prefix)
    : bagNetworkLogits(g, ids, model, prefix);
}

function idsInput(g: GraphBuilder): string {
  return g.input(INPUT_NAME, 'int64', ['batch', 'features']);
}

export function exportLinearModel(model: LinearModel, metadata: ExportMetadata): Uint8Array {
  const g = new GraphBuilder('hs_linear');
  return finishClassifierGraph(
    g,
    linearLogits(g, idsInput(g), model, ''),
    model.config.classes,
    metadata,
    model.config,
  );
}

export function exportBagNetwork(model: BagNetwork, metadata: ExportMetadata): Uint8Array {
  const g = new GraphBuilder(`hs_${model.config.kind}`);
  return finishClassifierGraph(
    g,
    bagNetworkLogits(g, idsInput(g), model, ''),
    model.config.classes,
    metadata,
    model.config,
  );
}

export interface EnsembleMember {
  model: LinearModel | BagNetwork;
  /** Share of this member in the probability average (normalised over members). Default 1. */
  weight?: number;
}

/**
 * Several bag models over the same encoder as one graph: probabilities = Σ w_i softmax(logits_i) / Σ w_i, and
 * logits = log(probabilities) (floored at 1e-30 so no logit is -inf), so the graph has the same inputs and
 * outputs as a single model and serving cannot tell the difference.
 */
export function exportBagEnsemble(members: readonly EnsembleMember[], metadata: ExportMetadata): Uint8Array {
  if (members.length === 0) throw new Error('export: an ensemble needs at least one member');
  const classes = members[0]!.model.config.classes;
  const weights = members.map((m) => m.weight ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  members.forEach((m, i) => {
    if (m.model.config.classes !== classes) {
      throw new Error(
        `export: ensemble member ${i} has ${m.model.config.classes} classes, member 0 has ${classes}`,
      );
    }
    if (!(weights[i]! >= 0) || !Number.isFinite(weights[i]!)) {
      throw new RangeError(`export: ensemble member ${i} has weight ${weights[i]}`);
    }
  });
  if (!(total > 0)) throw new RangeError('export: ensemble weights sum to zero');
  const g = new GraphBuilder('hs_ensemble');
  const ids = idsInput(g);
  let mixed = '';
  members.forEach((member, i) => {
    const probabilities = g.op('Softmax', [modelLogits(g, ids, member.model, `m${i}_`)], { axis: -1 });
    const share = g.op('Mul', [probabilities, g.scalarFloat(`m${i}_share`, weights[i]! / total)]);
    mixed = i === 0 ? share : g.op('Add', [mixed, share]);
  });
  const logits = g.op('Log', [g.op('Max', [mixed, g.scalarFloat('probability_floor', 1e-30)])]);
  const config = {
    kind: 'ensemble',
    classes,
    members: members.map((m, i) => ({ weight: weights[i]! / total, config: m.model.config })),
  };
  return finishClassifierGraph(g, logits, classes, metadata, config);
}

/** Exports any bag architecture. */
export function exportBagModel(model: LinearModel | BagNetwork, metadata: ExportMetadata): Uint8Array {
  return model instanceof LinearModel
    ? exportLinearModel(model, metadata)
    : exportBagNetwork(model, metadata);
}

/** The encoder emits int32 ids; the exported graphs take int64. */
export function idsToInt64(ids: Int32Array): BigInt64Array {
  return BigInt64Array.from(ids, (id) => BigInt(id));
}
