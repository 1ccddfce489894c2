/**
 * Jest runs tests in a separate realm, so typed arrays that onnxruntime-node's native code creates fail the
 * realm's `instanceof Float32Array` checks ("A float32 tensor's data must be type of Float32Array"). This
 * environment shares the host realm's typed-array constructors with the tests. Use it with a docblock:
 *   @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OnnxRuntimeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxRuntimeEnvironment;
