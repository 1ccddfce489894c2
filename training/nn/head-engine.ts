/**
 * The dense softmax head (h · W + b → softmax cross-entropy → gradients) is where training time goes: with
 * 2,372 classes it is ~95 % of the arithmetic. Measured on 2 cores, batch 64, h width 128 (bench/nn-kernels.ts):
 * TypeScript loops 59 ms per step, onnxruntime-node (MLAS GEMM, 2 threads) 1.7 ms. So the trainer runs the head
 * through a small onnxruntime graph, and the TypeScript engine remains the reference for tests.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph';
import { denseBackward, denseForward, softmaxCrossEntropy } from './kernels';
import { Parameter } from './parameter';

export interface HeadStepResult {
  /** Softmax probabilities [batch, classes]. */
  probs: Float32Array;
  /** Summed weighted cross-entropy. */
  loss: number;
  /** dLoss/dh [batch, inputs] (loss = weighted mean over the batch). */
  dh: Float32Array;
}

export interface HeadEngine {
  readonly name: string;
  /** Forward and backward of the head; adds dW and db into the parameters' gradients. */
  step(
    h: Float32Array,
    batch: number,
    weight: Parameter,
    bias: Parameter,
    labels: Int32Array,
    exampleWeights: Float32Array | null,
  ): Promise<HeadStepResult>;
  /** Logits only (validation, prediction); engines without it fall back to the TypeScript kernel. */
  logits?(h: Float32Array, batch: number, weight: Parameter, bias: Parameter): Promise<Float32Array>;
  close(): Promise<void>;
}

function dims(weight: Parameter): { inputs: number; classes: number } {
  return { inputs: weight.shape[0]!, classes: weight.shape[1]! };
}

export function createTypeScriptHeadEngine(): HeadEngine {
  return {
    name: 'typescript',
    async step(h, batch, weight, bias, labels, exampleWeights) {
      const { inputs, classes } = dims(weight);
      const logits = new Float32Array(batch * classes);
      denseForward(h, batch, inputs, weight.value, classes, bias.value, logits);
      const probs = new Float32Array(batch * classes);
      const dLogits = new Float32Array(batch * classes);
      const loss = softmaxCrossEntropy(logits, batch, classes, labels, exampleWeights, probs, dLogits);
      const dh = new Float32Array(batch * inputs);
      denseBackward(h, batch, inputs, weight.value, classes, dLogits, weight.grad, bias.grad, dh);
      return { probs, loss, dh };
    },
    async close() {},
  };
}

function headGraph(inputs: number, classes: number): Uint8Array {
  const g = new GraphBuilder('softmax_head_step');
  g.input('h', 'float32', ['batch', inputs]);
  g.input('W', 'float32', [inputs, classes]);
  g.input('b', 'float32', [classes]);
  g.input('scale', 'float32', ['batch', 1]);
  g.input('target', 'float32', ['batch', classes]);
  const logits = g.op('Gemm', ['h', 'W', 'b']);
  g.op('Softmax', [logits], { axis: 1 }, 'probs');
  // d(mean weighted CE)/dlogits = scale · probs − target, with target = scale · onehot.
  const dLogits = g.op('Sub', [g.op('Mul', ['probs', 'scale']), 'target']);
  g.op('Gemm', ['h', dLogits], { transA: 1 }, 'dW');
  g.op('ReduceSum', [dLogits, g.int64('axis0', [0])], { keepdims: 0 }, 'db');
  g.op('Gemm', [dLogits, 'W'], { transB: 1 }, 'dh');
  g.output('probs', 'float32', ['batch', classes]);
  g.output('dW', 'float32', [inputs, classes]);
  g.output('db', 'float32', [classes]);
  g.output('dh', 'float32', ['batch', inputs]);
  return g.toBytes();
}

/** onnxruntime engine; `threads` is ONNX Runtime's intra-op thread count (default 2, this machine's cores). */
export async function createOnnxHeadEngine(
  inputs: number,
  classes: number,
  threads = 2,
): Promise<HeadEngine> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const session = await ort.InferenceSession.create(headGraph(inputs, classes), options);
  const inference = new GraphBuilder('softmax_head_logits');
  inference.input('h', 'float32', ['batch', inputs]);
  inference.input('W', 'float32', [inputs, classes]);
  inference.input('b', 'float32', [classes]);
  inference.op('Gemm', ['h', 'W', 'b'], {}, 'logits');
  inference.output('logits', 'float32', ['batch', classes]);
  const logitsSession = await ort.InferenceSession.create(inference.toBytes(), options);
  return {
    name: `onnxruntime(${threads} threads)`,
    async step(h, batch, weight, bias, labels, exampleWeights) {
      if (weight.shape[0] !== inputs || weight.shape[1] !== classes)
        throw new Error('head engine built for another shape');
      let totalWeight = 0;
      for (let b = 0; b < batch; b++) totalWeight += exampleWeights ? exampleWeights[b]! : 1;
      const scale = new Float32Array(batch);
      const target = new Float32Array(batch * classes);
      for (let b = 0; b < batch; b++) {
        scale[b] = (exampleWeights ? exampleWeights[b]! : 1) / totalWeight;
        target[b * classes + labels[b]!] = scale[b]!;
      }
      const out = await session.run({
        h: new ort.Tensor('float32', h.subarray(0, batch * inputs), [batch, inputs]),
        W: new ort.Tensor('float32', weight.value, [inputs, classes]),
        b: new ort.Tensor('float32', bias.value, [classes]),
        scale: new ort.Tensor('float32', scale, [batch, 1]),
        target: new ort.Tensor('float32', target, [batch, classes]),
      });
      const probs = out.probs!.data as Float32Array;
      const dW = out.dW!.data as Float32Array;
      const db = out.db!.data as Float32Array;
      for (let i = 0; i < dW.length; i++) weight.grad[i] = weight.grad[i]! + dW[i]!;
      for (let i = 0; i < db.length; i++) bias.grad[i] = bias.grad[i]! + db[i]!;
      let loss = 0;
      for (let b = 0; b < batch; b++) {
        const weightOfExample = exampleWeights ? exampleWeights[b]! : 1;
        loss -= weightOfExample * Math.log(Math.max(probs[b * classes + labels[b]!]!, 1e-30));
      }
      return { probs, loss, dh: out.dh!.data as Float32Array };
    },
    async logits(h, batch, weight, bias) {
      const out = await logitsSession.run({
        h: new ort.Tensor('float32', h.subarray(0, batch * inputs), [batch, inputs]),
        W: new ort.Tensor('float32', weight.value, [inputs, classes]),
        b: new ort.Tensor('float32', bias.value, [classes]),
      });
      return out.logits!.data as Float32Array;
    },
    async close() {
      await session.release();
      await logitsSession.release();
    },
  };
}

/** Inference through the head: logits [batch, classes] = h · W + b, on the given engine's arithmetic. */
export async function headLogits(
  engine: HeadEngine,
  h: Float32Array,
  batch: number,
  weight: Parameter,
  bias: Parameter,
): Promise<Float32Array> {
  if (engine.logits) return engine.logits(h, batch, weight, bias);
  const { inputs, classes } = dims(weight);
  const logits = new Float32Array(batch * classes);
  denseForward(h, batch, inputs, weight.value, classes, bias.value, logits);
  return logits;
}
