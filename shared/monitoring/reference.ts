/**
 * The training reference that production is compared with: what the serving model predicted on its held-out
 * split (chapter distribution, top-1 confidence histogram) and what vocabulary its training text covered.
 *
 * Training builds it with `buildMonitoringReference` and ships it inside the model package as
 * `monitoring-reference.json` (a side file, so the manifest's sha256 pins it with the model). The held-out split
 * gives the distributions, not the training split: the model is over-confident on text it was fitted to, and
 * production text is unseen text.
 *
 * Out-of-vocabulary reference: a presence bitmap of the word tokens of the training split, hashed with FNV-1a (a
 * seed of its own) into 2^hashBits bits. A production token whose bit is clear was certainly never seen in
 * training; a set bit may be a collision, so the OOV rate is slightly underestimated, by about the bitmap's fill
 * ratio (reported as `fillRatio`: with 2^20 bits and 30,000 distinct training words, about 3 %). Only word tokens
 * count (not number or part-number shape tokens, which the encoder already generalises). The reference OOV rate is
 * measured on the held-out split against the bitmap of the training split, so "new words" means new to the model.
 */
import { fnv1a, tokenize, type TextEncoderConfig } from '../text/encoder';
import { addCluster, emptyClusteredRate, histogram, quantileBinEdges, type ClusteredRate } from './drift';

export const MONITORING_REFERENCE_FORMAT_VERSION = 1;
/** File name of the reference inside a model package. */
export const MONITORING_REFERENCE_FILE = 'monitoring-reference.json';
/** The bin for chapters the reference does not list (a model whose labels grew, or a malformed record). */
export const OTHER_CHAPTER = 'other';
/** Seed of the OOV hash: distinct from the encoder's, so bitmap collisions are unrelated to feature collisions. */
export const OOV_HASH_SEED = 0x9e3779b9;

export interface ChapterReference {
  /** Chapter codes (2 digits) in bin order, ending with `OTHER_CHAPTER`. */
  readonly codes: readonly string[];
  /** Held-out predictions whose top code falls in each chapter. */
  readonly counts: readonly number[];
}

export interface ConfidenceReference {
  /** Ascending interior edges: bin b holds edges[b−1] ≤ confidence < edges[b]. */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

export interface OovReference {
  readonly kind: 'word-token-bitmap';
  readonly hashBits: number;
  readonly hashSeed: number;
  /** Base64 of the bitmap, bit i at byte i >> 3, mask 1 << (i & 7). */
  readonly bitmap: string;
  /** Share of bits set: the chance that an unseen word collides with a seen one. */
  readonly fillRatio: number;
  /** Tokenizer settings the bitmap was built with; monitoring tokenizes production text the same way. */
  readonly tokenizer: TextEncoderConfig;
  /** OOV word tokens per held-out record, summed (see `ClusteredRate`). */
  readonly heldOut: ClusteredRate;
}

export interface MonitoringReference {
  readonly formatVersion: typeof MONITORING_REFERENCE_FORMAT_VERSION;
  readonly modelVersion: string;
  readonly createdAt: string;
  /** Held-out predictions behind the chapter and confidence references. */
  readonly records: number;
  readonly chapters: ChapterReference;
  readonly confidence: ConfidenceReference;
  readonly oov: OovReference;
}

/** One held-out prediction as training sees it. */
export interface HeldOutPrediction {
  readonly text: string;
  /** Predicted chapter: the first two digits of the top code. */
  readonly chapter: string;
  /** Calibrated top-1 confidence. */
  readonly topConfidence: number;
}

export interface MonitoringReferenceInput {
  readonly modelVersion: string;
  /** ISO time; default now. */
  readonly createdAt?: string;
  /** Descriptions of the training split (the vocabulary the model learned). */
  readonly trainingTexts: Iterable<string>;
  readonly heldOut: readonly HeldOutPrediction[];
  /** Every chapter the model can predict (from its labels); chapters only seen in `heldOut` are added. */
  readonly chapterCodes: readonly string[];
  readonly tokenizer: TextEncoderConfig;
  /** Confidence bins (at held-out quantiles). Default 10. */
  readonly confidenceBins?: number;
  /** log2 of the OOV bitmap size. Default 20 (128 KiB). */
  readonly oovHashBits?: number;
}

/** Word tokens that count for OOV: real words, not '#' numbers or '~' shapes. */
export function vocabularyTokens(text: string, tokenizer: TextEncoderConfig): string[] {
  return tokenize(text, tokenizer).filter((token) => !/^[#~]/.test(token) && !/^\p{N}/u.test(token));
}

/** A read-only view of the bitmap that answers "was this token seen in training?". */
export class VocabularyBitmap {
  readonly #bits: Uint8Array;
  readonly #mask: number;
  readonly #seed: number;

  constructor(bits: Uint8Array, hashBits: number, seed: number) {
    if (!Number.isInteger(hashBits) || hashBits < 3 || hashBits > 30) {
      throw new RangeError(`hashBits must be an integer in [3, 30], got ${hashBits}`);
    }
    if (bits.length !== 1 << (hashBits - 3)) {
      throw new RangeError(`bitmap has ${bits.length} bytes, 2^${hashBits} bits need ${1 << (hashBits - 3)}`);
    }
    this.#bits = bits;
    this.#mask = hashBits === 32 ? 0xffffffff : (1 << hashBits) - 1;
    this.#seed = seed;
  }

  static empty(hashBits: number, seed = OOV_HASH_SEED): VocabularyBitmap {
    return new VocabularyBitmap(new Uint8Array(1 << (hashBits - 3)), hashBits, seed);
  }

  static fromReference(reference: OovReference): VocabularyBitmap {
    return new VocabularyBitmap(
      new Uint8Array(Buffer.from(reference.bitmap, 'base64')),
      reference.hashBits,
      reference.hashSeed,
    );
  }

  #slot(token: string): number {
    return (fnv1a(token, this.#seed) & this.#mask) >>> 0;
  }

  add(token: string): void {
    const slot = this.#slot(token);
    this.#bits[slot >>> 3] = this.#bits[slot >>> 3]! | (1 << (slot & 7));
  }

  has(token: string): boolean {
    const slot = this.#slot(token);
    return (this.#bits[slot >>> 3]! & (1 << (slot & 7))) !== 0;
  }

  fillRatio(): number {
    let set = 0;
    for (const byte of this.#bits) {
      let b = byte;
      while (b !== 0) {
        b &= b - 1;
        set++;
      }
    }
    return set / (this.#bits.length * 8);
  }

  toBase64(): string {
    return Buffer.from(this.#bits).toString('base64');
  }
}

/** OOV word tokens and word tokens of one text. */
export function countOov(
  text: string,
  vocabulary: VocabularyBitmap,
  tokenizer: TextEncoderConfig,
): { oov: number; tokens: number } {
  const tokens = vocabularyTokens(text, tokenizer);
  let oov = 0;
  for (const token of tokens) if (!vocabulary.has(token)) oov++;
  return { oov, tokens: tokens.length };
}

/** Builds the reference that training ships in the model package. */
export function buildMonitoringReference(input: MonitoringReferenceInput): MonitoringReference {
  if (input.heldOut.length === 0) throw new RangeError('a monitoring reference needs held-out predictions');
  const vocabulary = VocabularyBitmap.empty(input.oovHashBits ?? 20);
  for (const text of input.trainingTexts) {
    for (const token of vocabularyTokens(text, input.tokenizer)) vocabulary.add(token);
  }

  const codes = [...new Set([...input.chapterCodes, ...input.heldOut.map((p) => p.chapter)])]
    .filter((code) => code !== OTHER_CHAPTER)
    .sort();
  codes.push(OTHER_CHAPTER);
  const binOfChapter = new Map(codes.map((code, index) => [code, index]));
  const chapterCounts = new Array<number>(codes.length).fill(0);
  let heldOutOov = emptyClusteredRate();
  const confidences = new Float64Array(input.heldOut.length);
  input.heldOut.forEach((prediction, i) => {
    const bin = binOfChapter.get(prediction.chapter)!;
    chapterCounts[bin] = chapterCounts[bin]! + 1;
    confidences[i] = prediction.topConfidence;
    const { oov, tokens } = countOov(prediction.text, vocabulary, input.tokenizer);
    if (tokens > 0) heldOutOov = addCluster(heldOutOov, oov, tokens);
  });
  const edges = quantileBinEdges(confidences, input.confidenceBins ?? 10);
  return {
    formatVersion: MONITORING_REFERENCE_FORMAT_VERSION,
    modelVersion: input.modelVersion,
    createdAt: input.createdAt ?? new Date().toISOString(),
    records: input.heldOut.length,
    chapters: { codes, counts: chapterCounts },
    confidence: { edges, counts: Array.from(histogram(confidences, edges)) },
    oov: {
      kind: 'word-token-bitmap',
      hashBits: input.oovHashBits ?? 20,
      hashSeed: OOV_HASH_SEED,
      bitmap: vocabulary.toBase64(),
      fillRatio: vocabulary.fillRatio(),
      tokenizer: { ...input.tokenizer },
      heldOut: heldOutOov,
    },
  };
}

/** Serialised form for the model package. */
export function serializeMonitoringReference(reference: MonitoringReference): Uint8Array {
  return Buffer.from(JSON.stringify(reference), 'utf8');
}

/** Thrown with every problem found in a stored reference. */
export class MonitoringReferenceError extends Error {
  constructor(
    readonly location: string,
    readonly problems: readonly string[],
  ) {
    super(`monitoring reference ${location} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'MonitoringReferenceError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCountArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0);
}

/** Parses and checks a stored reference, collecting every problem. */
export function parseMonitoringReference(bytes: Uint8Array, location: string): MonitoringReference {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error: unknown) {
    throw new MonitoringReferenceError(location, [
      `not JSON: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  if (!isObject(value)) throw new MonitoringReferenceError(location, ['not a JSON object']);
  const problems: string[] = [];
  if (value.formatVersion !== MONITORING_REFERENCE_FORMAT_VERSION) {
    problems.push(
      `formatVersion: expected ${MONITORING_REFERENCE_FORMAT_VERSION}, got ${String(value.formatVersion)}`,
    );
  }
  if (typeof value.modelVersion !== 'string' || value.modelVersion === '')
    problems.push('modelVersion: missing');
  const { chapters, confidence, oov } = value;
  if (!isObject(chapters) || !Array.isArray(chapters.codes) || !isCountArray(chapters.counts)) {
    problems.push('chapters: expected { codes: string[], counts: number[] }');
  } else if (chapters.codes.length !== chapters.counts.length || chapters.codes.at(-1) !== OTHER_CHAPTER) {
    problems.push(`chapters: codes and counts must have equal length and end with '${OTHER_CHAPTER}'`);
  }
  if (!isObject(confidence) || !isCountArray(confidence.counts) || !Array.isArray(confidence.edges)) {
    problems.push('confidence: expected { edges: number[], counts: number[] }');
  } else if (confidence.counts.length !== confidence.edges.length + 1) {
    problems.push('confidence: needs one more count than edges');
  }
  if (!isObject(oov) || oov.kind !== 'word-token-bitmap' || typeof oov.bitmap !== 'string') {
    problems.push("oov: expected kind 'word-token-bitmap' with a base64 bitmap");
  } else if (
    typeof oov.hashBits !== 'number' ||
    Buffer.from(oov.bitmap, 'base64').length * 8 !== 2 ** oov.hashBits
  ) {
    problems.push('oov: bitmap size does not match hashBits');
  } else if (!isObject(oov.heldOut) || !isObject(oov.tokenizer)) {
    problems.push('oov: heldOut rate sums and tokenizer settings are required');
  }
  if (problems.length > 0) throw new MonitoringReferenceError(location, problems);
  return value as unknown as MonitoringReference;
}
