/**
 * out = a · bᵀ on WebAssembly SIMD (f32x4), for the one product that dominates the sequence models: projecting
 * every token by every kernel row (Text-CNN) or gate row (GRU). V8 does not vectorise JavaScript loops; 128-bit
 * lanes do four multiply-adds per instruction: measured 4.3 against 0.9 GMAC/s for the register-blocked
 * JavaScript loop on [1408 × 64] · [64 × 768], the Text-CNN's per-batch projection.
 *
 * The module is assembled here from its opcodes (a few hundred bytes), so there is no build step and no binary
 * in the repository. Two functions:
 * - gemm_nt: C[M × N] = A[M × K] · B[N × K]ᵀ for M even, N and K multiples of 4, two rows by four columns at a
 *   time with eight vector accumulators; the wrapper pads the operands to those shapes.
 * - scatter_pairs: for a list of (g, x row, k row) records, dK[k row] += g · X[x row] and
 *   dX[x row] += g · K[k row]: the backward pass of max-pooled convolution, where each (sequence, filter) sends
 *   gradient to one window.
 */

/**
 * The slice of the WebAssembly API used here. The project's tsconfig has no DOM library, which is where
 * TypeScript declares WebAssembly; Node provides the global all the same.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => WasmInstance;
};

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

// gemm_nt parameters 0..5: a, b, c (byte addresses), M, K, N. Locals from 6.
const [A, B, C, M, K, N] = [0, 1, 2, 3, 4, 5];
const [ROW, COL, KK, PA0, PA1, PB0, PB1, PB2, PB3, KB, CP] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const GEMM_I32_LOCALS = 11;
/** Two output rows by four output columns per block: eight vector accumulators, six loads per four k. */
const BLOCK_ROWS = 2;
const BLOCK_COLS = 4;
const ACC = (r: number, c: number): number => 17 + r * BLOCK_COLS + c;
const VA = (r: number): number => 25 + r;
const VB = (c: number): number => 27 + c;
const PA = [PA0, PA1];
const PB = [PB0, PB1, PB2, PB3];
const GEMM_V128_LOCALS = 14;

const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const i32 = (v: number): number[] => [0x41, ...sleb(v)];
const ADD = 0x6a;
const MUL = 0x6c;
const GE_S = 0x4e;
const simd = (op: number, ...immediates: number[]): number[] => [0xfd, ...uleb(op), ...immediates];
const v128Load = (offset = 0): number[] => simd(0x00, 4, ...uleb(offset));
const v128Zero = (): number[] => simd(0x0c, ...new Array<number>(16).fill(0));
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_EXTRACT = 0x1f;
const F32_ADD = 0x92;
const f32Store = (offset: number): number[] => [0x38, 2, ...uleb(offset)];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = 0x0b;
const brIf = (depth: number): number[] => [0x0d, ...uleb(depth)];
const br = (depth: number): number[] => [0x0c, ...uleb(depth)];

/** acc += x * y */
const fma = (acc: number, x: number, y: number): number[] => [
  ...get(acc),
  ...get(x),
  ...get(y),
  ...simd(F32X4_MUL),
  ...simd(F32X4_ADD),
  ...set(acc),
];
/** Pushes the sum of the four lanes of a vector local. */
const horizontalSum = (v: number): number[] => [
  ...get(v),
  ...simd(F32X4_EXTRACT, 0),
  ...get(v),
  ...simd(F32X4_EXTRACT, 1),
  F32_ADD,
  ...get(v),
  ...simd(F32X4_EXTRACT, 2),
  ...get(v),
  ...simd(F32X4_EXTRACT, 3),
  F32_ADD,
  F32_ADD,
];
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function gemmBody(): number[] {
  /** pointer local = base + index * KB (+ KB for each further row). */
  const rowPointers = (base: number, index: number, pointers: number[]): number[] =>
    pointers.flatMap((pointer, i) =>
      i === 0
        ? [...get(base), ...get(index), ...get(KB), MUL, ADD, ...set(pointer)]
        : [...get(pointers[i - 1]!), ...get(KB), ADD, ...set(pointer)],
    );
  const loadAt = (pointer: number, target: number): number[] => [
    ...get(pointer),
    ...get(KK),
    ADD,
    ...v128Load(),
    ...set(target),
  ];
  const storeRow = (r: number): number[] =>
    range(BLOCK_COLS).flatMap((c) => [...get(CP), ...horizontalSum(ACC(r, c)), ...f32Store(4 * c)]);
  return [
    // kb = K * 4 (row stride in bytes)
    ...get(K),
    ...i32(4),
    MUL,
    ...set(KB),
    ...i32(0),
    ...set(ROW),
    ...BLOCK,
    ...LOOP,
    ...get(ROW),
    ...get(M),
    GE_S,
    ...brIf(1),
    ...rowPointers(A, ROW, PA),
    ...i32(0),
    ...set(COL),
    ...BLOCK,
    ...LOOP,
    ...get(COL),
    ...get(N),
    GE_S,
    ...brIf(1),
    ...rowPointers(B, COL, PB),
    ...range(BLOCK_ROWS).flatMap((r) => range(BLOCK_COLS).flatMap((c) => [...v128Zero(), ...set(ACC(r, c))])),
    ...i32(0),
    ...set(KK),
    ...BLOCK,
    ...LOOP,
    ...get(KK),
    ...get(KB),
    GE_S,
    ...brIf(1),
    ...range(BLOCK_ROWS).flatMap((r) => loadAt(PA[r]!, VA(r))),
    ...range(BLOCK_COLS).flatMap((c) => loadAt(PB[c]!, VB(c))),
    ...range(BLOCK_ROWS).flatMap((r) => range(BLOCK_COLS).flatMap((c) => fma(ACC(r, c), VA(r), VB(c)))),
    ...get(KK),
    ...i32(16),
    ADD,
    ...set(KK),
    ...br(0),
    END,
    END,
    // cp = c + (row * N + col) * 4
    ...get(C),
    ...get(ROW),
    ...get(N),
    MUL,
    ...get(COL),
    ADD,
    ...i32(4),
    MUL,
    ADD,
    ...set(CP),
    ...storeRow(0),
    // cp += N * 4: the second output row
    ...get(CP),
    ...get(N),
    ...i32(4),
    MUL,
    ADD,
    ...set(CP),
    ...storeRow(1),
    ...get(COL),
    ...i32(BLOCK_COLS),
    ADD,
    ...set(COL),
    ...br(0),
    END,
    END,
    ...get(ROW),
    ...i32(BLOCK_ROWS),
    ADD,
    ...set(ROW),
    ...br(0),
    END,
    END,
    END,
  ];
}

// scatter_pairs parameters 0..6: list, count, x, k, dx, dk (byte addresses), rowBytes. Locals from 7.
const [LIST, COUNT, XS, KS, DXS, DKS, ROW_BYTES] = [0, 1, 2, 3, 4, 5, 6];
const [REC, REC_END, PX, PK, PDX, PDK, D, GS] = [7, 8, 9, 10, 11, 12, 13, 14];
const i32Load = (offset: number): number[] => [0x28, 2, ...uleb(offset)];
const f32Load = (offset: number): number[] => [0x2a, 2, ...uleb(offset)];
const v128Store = (): number[] => simd(0x0b, 4, 0);
const F32X4_SPLAT = 0x13;
const LT_U = 0x49;
const EQZ = 0x45;

/** out[d] += gs · source[d], for the v128 at byte offset d. */
const axpyVector = (out: number, source: number): number[] => [
  ...get(out),
  ...get(D),
  ADD,
  ...get(out),
  ...get(D),
  ADD,
  ...v128Load(),
  ...get(GS),
  ...get(source),
  ...get(D),
  ADD,
  ...v128Load(),
  ...simd(F32X4_MUL),
  ...simd(F32X4_ADD),
  ...v128Store(),
];

function scatterBody(): number[] {
  const pointer = (base: number, field: number, target: number): number[] => [
    ...get(base),
    ...get(REC),
    ...i32Load(field),
    ADD,
    ...set(target),
  ];
  return [
    ...get(LIST),
    ...set(REC),
    ...get(LIST),
    ...get(COUNT),
    ...i32(12),
    MUL,
    ADD,
    ...set(REC_END),
    ...BLOCK,
    ...LOOP,
    ...get(REC),
    ...get(REC_END),
    GE_S,
    ...brIf(1),
    ...get(REC),
    ...f32Load(0),
    ...simd(F32X4_SPLAT),
    ...set(GS),
    ...pointer(XS, 4, PX),
    ...pointer(DXS, 4, PDX),
    ...pointer(KS, 8, PK),
    ...pointer(DKS, 8, PDK),
    ...i32(0),
    ...set(D),
    ...BLOCK,
    ...LOOP,
    ...get(D),
    ...get(ROW_BYTES),
    LT_U,
    EQZ,
    ...brIf(1),
    ...axpyVector(PDK, PX),
    ...axpyVector(PDX, PK),
    ...get(D),
    ...i32(16),
    ADD,
    ...set(D),
    ...br(0),
    END,
    END,
    ...get(REC),
    ...i32(12),
    ADD,
    ...set(REC),
    ...br(0),
    END,
    END,
    END,
  ];
}

function moduleBytes(): Uint8Array {
  const gemm = [...uleb(2), ...uleb(GEMM_I32_LOCALS), I32, ...uleb(GEMM_V128_LOCALS), V128, ...gemmBody()];
  const scatter = [...uleb(2), ...uleb(7), I32, ...uleb(1), V128, ...scatterBody()];
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  return Uint8Array.from([
    ...header,
    ...section(1, [
      ...uleb(2),
      ...[0x60, ...uleb(6), I32, I32, I32, I32, I32, I32, ...uleb(0)],
      ...[0x60, ...uleb(7), I32, I32, I32, I32, I32, I32, I32, ...uleb(0)],
    ]),
    ...section(2, [...uleb(1), ...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]),
    ...section(3, [...uleb(2), ...uleb(0), ...uleb(1)]),
    ...section(7, [
      ...uleb(2),
      ...name('gemm_nt'),
      0x00,
      ...uleb(0),
      ...name('scatter_pairs'),
      0x00,
      ...uleb(1),
    ]),
    ...section(10, [...uleb(2), ...uleb(gemm.length), ...gemm, ...uleb(scatter.length), ...scatter]),
  ]);
}

type GemmExport = (a: number, b: number, c: number, m: number, k: number, n: number) => void;
type ScatterExport = (
  list: number,
  count: number,
  x: number,
  k: number,
  dx: number,
  dk: number,
  rowBytes: number,
) => void;

interface SimdEngine {
  memory: WasmMemory;
  gemm: GemmExport;
  scatter: ScatterExport;
}
let engine: SimdEngine | null | undefined;

function loadEngine(): SimdEngine | null {
  if (engine !== undefined) return engine;
  const bytes = moduleBytes();
  if (!WebAssembly.validate(bytes)) {
    engine = null;
    return engine;
  }
  const memory = new WebAssembly.Memory({ initial: 16 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  engine = {
    memory,
    gemm: instance.exports.gemm_nt as GemmExport,
    scatter: instance.exports.scatter_pairs as ScatterExport,
  };
  return engine;
}

/** True where this runtime validates the SIMD module (Node 16.4+ does). */
export function simdAvailable(): boolean {
  return loadEngine() !== null;
}

/** The module's bytes, for tests that check it validates. */
export function simdModuleBytes(): Uint8Array {
  return moduleBytes();
}

const roundUp = (v: number, to: number): number => Math.ceil(v / to) * to;

function requireEngine(): SimdEngine {
  const simdEngine = loadEngine();
  if (!simdEngine) throw new Error('WebAssembly SIMD is not available in this runtime');
  return simdEngine;
}

/** The module's memory, grown to at least `bytes`; views made before a grow are stale, so take them after. */
function reserve(simdEngine: SimdEngine, bytes: number): ArrayBuffer {
  const { memory } = simdEngine;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
  return memory.buffer;
}

/**
 * out[rows × cols] = a[rows × inner] · b[cols × inner]ᵀ (+ bias[cols]) on SIMD. Throws where SIMD is missing:
 * callers choose the JavaScript kernel explicitly instead of silently getting it.
 */
export function multiplyTransposedSimd(
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  rows: number,
  inner: number,
  cols: number,
  bias?: Float32Array,
): void {
  const simdEngine = requireEngine();
  const m = roundUp(rows, BLOCK_ROWS);
  const n = roundUp(cols, BLOCK_COLS);
  const k = roundUp(inner, 4);
  const aBytes = m * k * 4;
  const bBytes = n * k * 4;
  const needed = aBytes + bBytes + m * n * 4;
  const heap = new Float32Array(reserve(simdEngine, needed));
  const aBase = 0;
  const bBase = aBytes / 4;
  const cBase = (aBytes + bBytes) / 4;
  if (k === inner) {
    heap.set(a.subarray(0, rows * inner), aBase);
    heap.set(b.subarray(0, cols * inner), bBase);
    heap.fill(0, aBase + rows * inner, bBase);
    heap.fill(0, bBase + cols * inner, cBase);
  } else {
    heap.fill(0, 0, cBase);
    for (let r = 0; r < rows; r++) heap.set(a.subarray(r * inner, (r + 1) * inner), aBase + r * k);
    for (let r = 0; r < cols; r++) heap.set(b.subarray(r * inner, (r + 1) * inner), bBase + r * k);
  }
  simdEngine.gemm(aBase * 4, bBase * 4, cBase * 4, m, k, n);
  for (let r = 0; r < rows; r++) {
    const from = cBase + r * n;
    const o = r * cols;
    if (bias) {
      for (let c = 0; c < cols; c++) out[o + c] = heap[from + c]! + bias[c]!;
    } else {
      out.set(heap.subarray(from, from + cols), o);
    }
  }
}

/**
 * Gradient pairs of a sparse backward pass: record r says dK[kRow] += g · X[xRow] and dX[xRow] += g · K[kRow].
 * Collected in JavaScript, applied on SIMD in one call.
 */
export class GradientPairs {
  private gains = new Float32Array(4096);
  private rowsOfX = new Int32Array(4096);
  private rowsOfK = new Int32Array(4096);
  count = 0;

  add(gain: number, xRow: number, kRow: number): void {
    if (this.count === this.gains.length) {
      const grow = <T extends Float32Array | Int32Array>(old: T, fresh: T): T => {
        fresh.set(old);
        return fresh;
      };
      this.gains = grow(this.gains, new Float32Array(this.count * 2));
      this.rowsOfX = grow(this.rowsOfX, new Int32Array(this.count * 2));
      this.rowsOfK = grow(this.rowsOfK, new Int32Array(this.count * 2));
    }
    this.gains[this.count] = gain;
    this.rowsOfX[this.count] = xRow;
    this.rowsOfK[this.count] = kRow;
    this.count++;
  }

  /** Applies every pair: dX += and dK += (both accumulate). Rows are `dim` long; dim must be a multiple of 4. */
  apply(x: Float32Array, k: Float32Array, dX: Float32Array, dK: Float32Array, dim: number): void {
    if (dim % 4 !== 0) throw new RangeError(`SIMD scatter needs a row length divisible by 4, got ${dim}`);
    const simdEngine = requireEngine();
    const xFloats = x.length;
    const kFloats = k.length;
    const listWords = this.count * 3;
    const bytes = 4 * (2 * xFloats + 2 * kFloats + listWords);
    const buffer = reserve(simdEngine, bytes);
    const heap = new Float32Array(buffer);
    const words = new Int32Array(buffer);
    const xBase = 0;
    const kBase = xBase + xFloats;
    const dxBase = kBase + kFloats;
    const dkBase = dxBase + xFloats;
    const listBase = dkBase + kFloats;
    heap.set(x, xBase);
    heap.set(k, kBase);
    heap.set(dX.subarray(0, xFloats), dxBase);
    heap.set(dK.subarray(0, kFloats), dkBase);
    const rowBytes = dim * 4;
    for (let r = 0; r < this.count; r++) {
      heap[listBase + 3 * r] = this.gains[r]!;
      words[listBase + 3 * r + 1] = this.rowsOfX[r]! * rowBytes;
      words[listBase + 3 * r + 2] = this.rowsOfK[r]! * rowBytes;
    }
    simdEngine.scatter(listBase * 4, this.count, xBase * 4, kBase * 4, dxBase * 4, dkBase * 4, rowBytes);
    dX.set(heap.subarray(dxBase, dxBase + xFloats));
    dK.set(heap.subarray(dkBase, dkBase + kFloats));
    this.count = 0;
  }
}
