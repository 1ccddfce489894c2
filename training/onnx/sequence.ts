/**
 * ONNX exporters for the sequence architectures (Text-CNN, GRU). Serving feeds the encoder's zero-padded token
 * grid (packTokenGrids), so the graph has to make padding invisible, where training never saw any:
 *   ids int64 [batch, tokens, perToken] (0 = padding)
 *   → Gather(table) → ReduceSum over perToken: token vectors [batch, tokens, dim] (the padding row is zero)
 *   → lengths = number of tokens with a non-zero first id
 *   Text-CNN: per width w, Conv (end padding w - 1, so windows read zeros past the end, as in training)
 *     → windows starting at or after max(1, length - w + 1) set to -1e30 → ReduceMax over time → Relu
 *     → Concat → Gemm → logits
 *   GRU: ONNX GRU (linear_before_reset = 1, sequence_lens = max(length, 1)) → Y_h → Gemm → logits
 * Outputs and metadata follow the bag exporters (training/onnx/export.ts), plus `input_layout` = 'token_grid'
 * so serving knows to build the grid instead of a bag, and `features_per_token`, the grid's perToken that
 * training used (serving may choose the number of tokens freely: padding is masked).
 */
import { GruModel } from '../models/gru';
import { TextCnnModel } from '../models/textcnn';
import { kernelRowIndex } from '../nn/sequence/convPool';
import { FEATURES_PER_TOKEN } from '../nn/sequence/packed';
import { ExportMetadata, finishClassifierGraph, INPUT_NAME } from './export';
import { GraphBuilder } from './graph';

export const INPUT_LAYOUT = 'token_grid';

/** Far below any real activation, so a masked window never wins the max. */
const MASKED = -1e30;
const FLOAT = 1;
const INT32 = 6;

interface TokenVectors {
  /** [batch, tokens, dim] */
  vectors: string;
  /** [batch] token count per text, float. */
  lengths: string;
}

function tokenVectors(g: GraphBuilder, table: Float32Array, rows: number, dim: number): TokenVectors {
  const ids = g.input(INPUT_NAME, 'int64', ['batch', 'tokens', 'per_token']);
  const gathered = g.op('Gather', [g.initializer('embedding', table, [rows, dim]), ids], { axis: 0 });
  const vectors = g.op('ReduceSum', [gathered, g.int64('axis2', [2])], { keepdims: 0 });
  // The packers fill a token's ids from the front, so a token exists exactly when its first id is non-zero.
  const firstIds = g.op('Gather', [ids, g.initializer('first_feature', BigInt64Array.of(0n), [])], {
    axis: 2,
  });
  const present = g.op(
    'Cast',
    [g.op('Greater', [firstIds, g.initializer('zero_id', BigInt64Array.of(0n), [])])],
    {
      to: FLOAT,
    },
  );
  const lengths = g.op('ReduceSum', [present, g.int64('axis1', [1])], { keepdims: 0 });
  return { vectors, lengths };
}

function outputLayer(
  g: GraphBuilder,
  h: string,
  weight: Float32Array,
  bias: Float32Array,
  inputs: number,
  classes: number,
): string {
  const w = g.initializer('output_weight', weight, [inputs, classes]);
  const b = g.initializer('output_bias', bias, [classes]);
  return g.op('Gemm', [h, w, b]);
}

export function exportTextCnn(model: TextCnnModel, metadata: ExportMetadata): Uint8Array {
  const { rows, dim, widths, filters, classes } = model.config;
  const g = new GraphBuilder('hs_textcnn');
  const { vectors, lengths } = tokenVectors(g, model.embedding.value, rows, dim);
  const channelsFirst = g.op('Transpose', [vectors], { perm: [0, 2, 1] });
  // Window start positions 0..tokens-1 as floats, [1, tokens], to compare with per-text limits [batch, 1].
  const tokens = g.op(
    'Cast',
    [
      g.op('Gather', [g.op('Shape', [vectors]), g.initializer('dim1', BigInt64Array.of(1n), [])], {
        axis: 0,
      }),
    ],
    {
      to: FLOAT,
    },
  );
  const positions = g.op('Unsqueeze', [
    g.op('Range', [g.scalarFloat('zero', 0), tokens, g.scalarFloat('one', 1)]),
    g.int64('axis0', [0]),
  ]);
  const lengthColumn = g.op('Unsqueeze', [lengths, g.int64('axis1_unsqueeze', [1])]);
  const pooled = widths.map((w, i) => {
    // ONNX Conv weight [filters, dim, w]: element (f, d, j) is kernel row (width i, offset j, filter f).
    const weight = new Float32Array(filters * dim * w);
    for (let f = 0; f < filters; f++) {
      for (let j = 0; j < w; j++) {
        const row = kernelRowIndex(model.shape, i, j, f);
        for (let d = 0; d < dim; d++) weight[(f * dim + d) * w + j] = model.kernel.value[row * dim + d]!;
      }
    }
    const bias = model.convBias.value.slice(i * filters, (i + 1) * filters);
    const conv = g.op(
      'Conv',
      [
        channelsFirst,
        g.initializer(`conv${w}_weight`, weight, [filters, dim, w]),
        g.initializer(`conv${w}_bias`, bias, [filters]),
      ],
      {
        kernel_shape: [w],
        pads: [0, w - 1],
      },
    );
    const windows = g.op('Max', [
      g.op('Sub', [lengthColumn, g.scalarFloat(`width${w}_minus_1`, w - 1)]),
      g.scalarFloat(`one_w${w}`, 1),
    ]);
    const valid = g.op('Unsqueeze', [g.op('Less', [positions, windows]), g.int64(`axis1_w${w}`, [1])]);
    const masked = g.op('Where', [valid, conv, g.scalarFloat(`masked_w${w}`, MASKED)]);
    return g.op('Relu', [g.op('ReduceMax', [masked], { axes: [2], keepdims: 0 })]);
  });
  const h = pooled.length === 1 ? pooled[0]! : g.op('Concat', pooled, { axis: 1 });
  const logits = outputLayer(g, h, model.weight.value, model.bias.value, model.inputs, classes);
  return finishClassifierGraph(g, logits, classes, withLayout(metadata), model.config);
}

export function exportGru(model: GruModel, metadata: ExportMetadata): Uint8Array {
  const { rows, dim, hidden, classes } = model.config;
  const g = new GraphBuilder('hs_gru');
  const { vectors, lengths } = tokenVectors(g, model.embedding.value, rows, dim);
  const timeMajor = g.op('Transpose', [vectors], { perm: [1, 0, 2] });
  // An empty text is one all-padding step, as the packed training layout makes it one featureless token.
  const sequenceLengths = g.op('Cast', [g.op('Max', [lengths, g.scalarFloat('one', 1)])], { to: INT32 });
  const biases = new Float32Array(6 * hidden);
  biases.set(model.inputBias.value, 0);
  biases.set(model.recurrentBias.value, 3 * hidden);
  const [, lastState] = g.node(
    'GRU',
    [
      timeMajor,
      g.initializer('gru_W', model.inputWeights.value, [1, 3 * hidden, dim]),
      g.initializer('gru_R', model.recurrentWeights.value, [1, 3 * hidden, hidden]),
      g.initializer('gru_B', biases, [1, 6 * hidden]),
      sequenceLengths,
    ],
    { hidden_size: hidden, linear_before_reset: 1, direction: 'forward' },
    undefined,
    2,
  );
  const h = g.op('Squeeze', [lastState!, g.int64('axis0', [0])]);
  const logits = outputLayer(g, h, model.weight.value, model.bias.value, model.inputs, classes);
  return finishClassifierGraph(g, logits, classes, withLayout(metadata), model.config);
}

/** Exports either sequence architecture. */
export function exportSequenceModel(model: TextCnnModel | GruModel, metadata: ExportMetadata): Uint8Array {
  return model instanceof TextCnnModel ? exportTextCnn(model, metadata) : exportGru(model, metadata);
}

/** Sequence models take the padded token grid: serving reads the layout from the model's metadata. */
function withLayout(metadata: ExportMetadata): ExportMetadata {
  return {
    ...metadata,
    extra: { input_layout: INPUT_LAYOUT, features_per_token: String(FEATURES_PER_TOKEN), ...metadata.extra },
  };
}
