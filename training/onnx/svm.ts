/**
 * ONNX export of the linear SVM (training/models/svm.ts) with its sparse weights, computing exactly what the
 * TypeScript forward pass does and touching only the stored entries of the input's features (no dense
 * [features, classes] table, no padding to the longest posting list):
 *
 *   ids int64 [batch, width] (0 = padding)
 *   x = idf(ids) / ||idf(ids) of its group||             tf-idf values per slot (words and n-grams apart)
 *   start, len = offsets[id], offsets[id + 1] - offsets[id]   each slot's run of entries
 *   the runs laid end to end (CumSum): entry e of the concatenation belongs to slot s(e), found by scattering a
 *   mark at each run's start and taking the running count of marks
 *   logits = bias + ScatterElements(add) of x[s(e)] · value[e] at (row of s(e), class[e])
 *
 * Classes are stored as uint16 and weights as float32: about 6 bytes per non-zero weight.
 */
import type { LinearSvmModel } from '../models/svm';
import { ExportMetadata, INPUT_NAME, finishClassifierGraph } from './export';
import { GraphBuilder } from './graph';

export function exportLinearSvm(model: LinearSvmModel, metadata: ExportMetadata): Uint8Array {
  const { rows, classes } = model.config;
  const { offsets, classIndex, values, bias } = model.weights;
  const g = new GraphBuilder('hs_svm');
  const ids = g.input(INPUT_NAME, 'int64', ['batch', 'features']);
  const axis0 = g.int64('axis0', [0]);
  const axis1 = g.int64('axis1', [1]);
  const flat = g.int64('flat', [-1]);
  const zero = g.initializer('zero_i64', BigInt64Array.of(0n), []);
  const one = g.initializer('one_i64', BigInt64Array.of(1n), []);

  // tf-idf values of every slot, each feature group L2-normalised on its own, flattened [n = batch * width].
  const idf = g.op('Gather', [g.initializer('feature_weights', model.featureWeights, [rows]), ids], {
    axis: 0,
  });
  const inGroup1 = g.op(
    'Gather',
    [g.initializer('feature_groups', Float32Array.from(model.featureGroups), [rows]), ids],
    { axis: 0 },
  );
  const inGroup0 = g.op('Sub', [g.scalarFloat('one_f', 1), inGroup1]);
  const squares = g.op('Mul', [idf, idf]);
  const tiny = g.scalarFloat('tiny', 1e-30);
  const inverseNorm = (mask: string): string =>
    g.op('Reciprocal', [
      g.op('Sqrt', [
        g.op('Max', [g.op('ReduceSum', [g.op('Mul', [squares, mask]), axis1], { keepdims: 1 }), tiny]),
      ]),
    ]);
  const scale = g.op('Add', [
    g.op('Mul', [inGroup0, inverseNorm(inGroup0)]),
    g.op('Mul', [inGroup1, inverseNorm(inGroup1)]),
  ]);
  const x = g.op('Reshape', [g.op('Mul', [idf, scale]), flat]);

  // Each slot's run of entries.
  const slotIds = g.op('Reshape', [ids, flat]);
  const offsetTable = g.initializer(
    'offsets',
    BigInt64Array.from(offsets, (o) => BigInt(o)),
    [rows + 1],
  );
  const start = g.op('Gather', [offsetTable, slotIds], { axis: 0 });
  const end = g.op('Gather', [offsetTable, g.op('Add', [slotIds, one])], { axis: 0 });
  const length = g.op('Sub', [end, start]);
  const runEnd = g.op('CumSum', [length, zero]);
  const runStart = g.op('Sub', [runEnd, length]);
  const total = g.op('ReduceSum', [length, axis0], { keepdims: 1 });

  // slot(e) = (number of runs starting at or before e) - 1; empty runs share their successor's start, and those
  // at the very end start at `total`, hence one spare mark position.
  const marks = g.op(
    'ScatterElements',
    [
      g.op('Expand', [zero, g.op('Add', [total, one])]),
      runStart,
      g.op('Expand', [one, g.op('Shape', [runStart])]),
    ],
    { axis: 0, reduction: 'add' },
  );
  const runsSoFar = g.op('Slice', [g.op('CumSum', [marks, zero]), g.int64('slice_start', [0]), total, axis0]);
  const slot = g.op('Sub', [runsSoFar, one]);
  const position = g.op('Range', [zero, g.op('Squeeze', [total, axis0]), one]);
  const entry = g.op('Add', [
    g.op('Gather', [start, slot], { axis: 0 }),
    g.op('Sub', [position, g.op('Gather', [runStart, slot], { axis: 0 })]),
  ]);
  // Arrays of length ≥ 1 even for a model without entries, so the Gathers above always have a valid index space.
  const storedClasses = classIndex.length > 0 ? classIndex : new Uint16Array(1);
  const storedValues = values.length > 0 ? values : new Float32Array(1);
  const entryClass = g.op(
    'Cast',
    [g.op('Gather', [g.initializer('classes', storedClasses, [storedClasses.length]), entry], { axis: 0 })],
    { to: 7 /* int64 */ },
  );
  const contribution = g.op('Mul', [
    g.op('Gather', [g.initializer('weights', storedValues, [storedValues.length]), entry], { axis: 0 }),
    g.op('Gather', [x, slot], { axis: 0 }),
  ]);

  // Scatter into the flattened [batch, classes] logits, starting from the bias.
  const shape = g.op('Shape', [ids]);
  const batch = g.op('Slice', [shape, g.int64('batch_start', [0]), g.int64('batch_end', [1]), axis0]);
  const width = g.op('Slice', [shape, g.int64('width_start', [1]), g.int64('width_end', [2]), axis0]);
  const classCount = g.int64('class_count', [classes]);
  const target = g.op('Add', [g.op('Mul', [g.op('Div', [slot, width]), classCount]), entryClass]);
  const base = g.op('Reshape', [
    g.op('Expand', [
      g.initializer('bias', bias, [1, classes]),
      g.op('Concat', [batch, classCount], { axis: 0 }),
    ]),
    flat,
  ]);
  const scattered = g.op('ScatterElements', [base, target, contribution], { axis: 0, reduction: 'add' });
  const logits = g.op('Reshape', [scattered, g.op('Concat', [batch, classCount], { axis: 0 })]);
  return finishClassifierGraph(g, logits, classes, metadata, model.config);
}
