/**
 * A small ONNX graph builder over onnx-proto: enough to express the exported models (Gather, ReduceSum, Gemm,
 * Relu, Softmax, ...) and the training-time kernel graphs, and nothing more.
 */
import { onnx } from 'onnx-proto';

export const OPSET_VERSION = 17;
/** IR version 8 matches opset 17 (ONNX 1.12). */
const IR_VERSION = 8;

export type ElementType = 'float32' | 'int64' | 'int32' | 'uint16';

const DATA_TYPES: Record<ElementType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint16: onnx.TensorProto.DataType.UINT16,
};

/** A dimension: a fixed size or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

export type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: Buffer.from(value, 'utf8') };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: use { float } for non-integers`);
    return { name, type: A.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  return { name, type: A.FLOATS, floats: value.floats };
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A constant tensor stored in the model (weights); data is copied as raw little-endian bytes. */
  initializer(
    name: string,
    data: Float32Array | BigInt64Array | Int32Array | Uint16Array,
    dims: readonly number[],
  ): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length)
      throw new RangeError(`initializer ${name}: ${data.length} values for [${dims.join(', ')}]`);
    const type: ElementType =
      data instanceof Float32Array
        ? 'float32'
        : data instanceof BigInt64Array
          ? 'int64'
          : data instanceof Uint16Array
            ? 'uint16'
            : 'int32';
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: DATA_TYPES[type],
      rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    });
    return name;
  }

  /** int64 constant, the type ONNX wants for axes, shapes and indices. */
  int64(name: string, values: readonly number[]): string {
    return this.initializer(
      name,
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
    );
  }

  scalarFloat(name: string, value: number): string {
    return this.initializer(name, Float32Array.of(value), []);
  }

  /** Adds a node and returns the names of its outputs (generated unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputNames?: readonly string[],
    outputCount = 1,
  ): string[] {
    const outs = outputNames
      ? [...outputNames]
      : Array.from({ length: outputCount }, () => `${opType}_${this.counter++}`);
    this.nodes.push({
      opType,
      name: `${opType}_node_${this.nodes.length}`,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Single-output node. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputName?: string,
  ): string {
    return this.node(opType, inputs, attributes, outputName ? [outputName] : undefined)[0]!;
  }

  build(metadata: Record<string, string> = {}): onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: 'hs-mlops',
      producerVersion: '1',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }

  /** Serialised model bytes, ready for onnxruntime or a blob. */
  toBytes(metadata: Record<string, string> = {}): Uint8Array {
    return onnx.ModelProto.encode(this.build(metadata)).finish();
  }
}
