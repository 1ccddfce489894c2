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

function bagInput(
  g: GraphBuilder,
  table: Float32Array,
  rows: number,
  dim: number,
  mode: 'mean' | 'sqrt',
): string {
  const ids = g.input(INPUT_NAME, 'int64', ['batch', 'features']);
  const mask = g.op('Cast', [g.op('Greater', [ids, g.initializer('zero_id', BigInt64Array.of(0n), [])])], {
    to: 1,
  });
  const axis1 = g.int64('axis1', [1]);
  const count = g.op('Max', [g.op('ReduceSum', [mask, axis1], { keepdims: 1 }), g.scalarFloat('one', 1)]);
  const scale = g.op('Reciprocal', [mode === 'mean' ? count : g.op('Sqrt', [count])]);
  const gathered = g.op('Gather', [g.initializer('table', table, [rows, dim]), ids], { axis: 0 });
  return g.op('Mul', [g.op('ReduceSum', [gathered, axis1], { keepdims: 0 }), scale]);
}

function finish(
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

export function exportLinearModel(model: LinearModel, metadata: ExportMetadata): Uint8Array {
  const { rows, classes } = model.config;
  const g = new GraphBuilder('hs_linear');
  const bagged = bagInput(g, model.weight.value, rows, classes, 'sqrt');
  const logits = g.op('Add', [bagged, g.initializer('bias', model.bias.value, [classes])]);
  return finish(g, logits, classes, metadata, model.config);
}

export function exportBagNetwork(model: BagNetwork, metadata: ExportMetadata): Uint8Array {
  const { rows, dim, classes } = model.config;
  const g = new GraphBuilder(`hs_${model.config.kind}`);
  let current = bagInput(g, model.embedding.value, rows, dim, model.config.pooling ?? 'sqrt');
  model.layers.forEach((layer, index) => {
    const w = g.initializer(`hidden${index}_weight`, layer.weight.value, [layer.inputs, layer.outputs]);
    const b = g.initializer(`hidden${index}_bias`, layer.bias.value, [layer.outputs]);
    current = g.op('Relu', [g.op('Gemm', [current, w, b])]);
  });
  const w = g.initializer('output_weight', model.weight.value, [model.inputs, classes]);
  const b = g.initializer('output_bias', model.bias.value, [classes]);
  return finish(g, g.op('Gemm', [current, w, b]), classes, metadata, model.config);
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
