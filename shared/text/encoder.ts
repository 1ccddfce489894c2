/**
 * Text encoder for declaration descriptions: the one place where raw trader text becomes model inputs, used by
 * training and by serving alike, so it is versioned and its whole behaviour is fixed by a serialisable config.
 *
 * Output is feature ids: id 0 is padding, ids 1..buckets are either FNV-1a hashes of feature strings (fastText
 * style) or, when the config carries a vocabulary learned from the training data, exact positions in it (no
 * collisions; features outside the vocabulary are dropped). Two layouts are offered: a flat bag [F] per text (bag-of-embeddings, linear, DNN models: the ONNX
 * graph does Gather + ReduceSum), and a per-token grid [T, K] (sequence models: Text-CNN, GRU).
 */

/** Bumped whenever a change to this file could change any encoder output for the same config. */
export const ENCODER_VERSION = 'hs-text-2';

/**
 * Earlier versions whose descriptors this build still encodes identically. hs-text-2 added the optional
 * vocabulary; a config without one encodes exactly as hs-text-1 did.
 */
const COMPATIBLE_ENCODER_VERSIONS: ReadonlySet<string> = new Set(['hs-text-1', ENCODER_VERSION]);

export type NumberMode =
  /** Numbers stay as written ("500", "1.1"). */
  | 'keep'
  /** Numbers become a shape token by digit count ("500" -> "#3", "1.1" -> "#1.1"), which generalises quantities. */
  | 'shape';

export interface TextEncoderConfig {
  /**
   * Feature ids are 1..buckets, 0 is padding. Hash buckets when there is no vocabulary (default 2^18); with a
   * vocabulary it must equal the vocabulary's length.
   */
  buckets: number;
  /**
   * Feature strings (as tokenFeatureStrings writes them) whose ids are their position + 1, learned from training
   * texts by buildVocabulary. Features not in it are dropped instead of hashed. Default none (hashing).
   */
  vocabulary?: readonly string[];
  /** Separate digits from letters ("500ML" -> "500 ml", "12X100" -> "12 x 100"). Default true. */
  splitAlphaNumeric: boolean;
  /** How numbers appear as tokens. Default 'shape'. */
  numbers: NumberMode;
  /** Emit a shape token (letters -> a, digits -> 9, runs collapsed) for tokens mixing letters and digits, which
   * marks part numbers and model codes without memorising them. Default true. */
  partNumberShapes: boolean;
  /** Smallest character n-gram of "<word>"; 0 disables character n-grams. Default 3. */
  charNgramMin: number;
  /** Largest character n-gram of "<word>". Default 5. */
  charNgramMax: number;
  /** Adjacent word pairs as features. Default true. */
  wordBigrams: boolean;
  /** Tokens kept per text (the rest is cut; descriptions have a median of five words). Default 32. */
  maxTokens: number;
  /** Keep each feature id at most once per text (binary term frequency). Default true. */
  uniqueFeatures: boolean;
}

export const DEFAULT_ENCODER_CONFIG: Readonly<TextEncoderConfig> = Object.freeze({
  buckets: 1 << 18,
  splitAlphaNumeric: true,
  numbers: 'shape',
  partNumberShapes: true,
  charNgramMin: 3,
  charNgramMax: 5,
  wordBigrams: true,
  maxTokens: 32,
  uniqueFeatures: true,
});

/** Fills the defaults and rejects settings that would silently produce nonsense. */
export function resolveEncoderConfig(partial: Partial<TextEncoderConfig> = {}): TextEncoderConfig {
  const config = { ...DEFAULT_ENCODER_CONFIG, ...partial };
  if (!Number.isInteger(config.buckets) || config.buckets < 2 || config.buckets > 2 ** 30) {
    throw new RangeError(`encoder buckets must be an integer in [2, 2^30], got ${config.buckets}`);
  }
  if (config.charNgramMin < 0 || (config.charNgramMin > 0 && config.charNgramMax < config.charNgramMin)) {
    throw new RangeError(
      `encoder char n-gram range [${config.charNgramMin}, ${config.charNgramMax}] is invalid`,
    );
  }
  if (!Number.isInteger(config.maxTokens) || config.maxTokens < 1) {
    throw new RangeError(`encoder maxTokens must be a positive integer, got ${config.maxTokens}`);
  }
  if (config.vocabulary !== undefined && config.vocabulary.length !== config.buckets) {
    throw new RangeError(
      `encoder buckets (${config.buckets}) must equal the vocabulary size (${config.vocabulary.length})`,
    );
  }
  if (config.numbers !== 'keep' && config.numbers !== 'shape') {
    throw new RangeError(`encoder numbers must be 'keep' or 'shape', got ${String(config.numbers)}`);
  }
  return config;
}

/** 32-bit FNV-1a over UTF-16 code units: stable across machines and Node versions, unlike anything built in. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const COMBINING_MARKS = /\p{M}+/gu;
const NON_WORD = /[^\p{L}\p{N}.]+/gu;
const LETTER_DIGIT_BOUNDARY = /(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/gu;
const HAS_LETTER = /\p{L}/u;
const HAS_DIGIT = /\p{N}/u;
const NUMBER = /^\p{N}+(?:\.\p{N}+)*$/u;

/** NFKC, case folding, accents removed, punctuation to spaces (decimal points inside numbers survive). */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(COMBINING_MARKS, '')
    .normalize('NFC')
    .replace(NON_WORD, ' ')
    .trim();
}

function shapeOf(token: string): string {
  let shape = '';
  let last = '';
  for (const ch of token) {
    const cls = HAS_DIGIT.test(ch) ? '9' : HAS_LETTER.test(ch) ? 'a' : ch;
    if (cls !== last) shape += cls;
    last = cls;
  }
  return shape;
}

function numberToken(token: string, mode: NumberMode): string {
  if (mode === 'keep') return token;
  return '#' + token.replace(/\p{N}+/gu, (digits) => String(digits.length));
}

/**
 * Word tokens after normalisation and number handling. Shape tokens start with '~' and number tokens (shape
 * mode) with '#', so neither can collide with a real word.
 */
export function tokenize(text: string, config: TextEncoderConfig): string[] {
  const tokens: string[] = [];
  for (const raw of normalizeText(text).split(' ')) {
    // Dots only matter between digits; "e.g." or a trailing "." is punctuation.
    const parts = raw.split(/(?<!\p{N})\.|\.(?!\p{N})/u).filter((p) => p.length > 0);
    for (const part of parts) {
      if (config.partNumberShapes && HAS_LETTER.test(part) && HAS_DIGIT.test(part))
        tokens.push('~' + shapeOf(part));
      const pieces = config.splitAlphaNumeric ? part.split(LETTER_DIGIT_BOUNDARY) : [part];
      for (const piece of pieces) {
        if (piece.length === 0) continue;
        tokens.push(NUMBER.test(piece) ? numberToken(piece, config.numbers) : piece);
      }
    }
  }
  return tokens.length > config.maxTokens ? tokens.slice(0, config.maxTokens) : tokens;
}

/** True for tokens that get character n-grams: real words, not numbers or shapes. */
function isWordToken(token: string): boolean {
  const first = token.charCodeAt(0);
  return first !== 0x23 /* # */ && first !== 0x7e /* ~ */ && !NUMBER.test(token);
}

/** Feature strings of one token position: the token, its character n-grams, and the bigram ending here. */
export function tokenFeatureStrings(
  tokens: readonly string[],
  position: number,
  config: TextEncoderConfig,
): string[] {
  const token = tokens[position]!;
  const features = ['w' + token];
  if (config.charNgramMin > 0 && isWordToken(token)) {
    const padded = '<' + token + '>';
    for (let n = config.charNgramMin; n <= config.charNgramMax; n++) {
      // The whole "<word>" is already the word feature.
      for (let start = 0; start + n <= padded.length && n < padded.length; start++) {
        features.push('c' + padded.slice(start, start + n));
      }
    }
  }
  if (config.wordBigrams && position > 0) features.push('b' + tokens[position - 1]! + ' ' + token);
  return features;
}

/** True for a character n-gram feature string (as tokenFeatureStrings writes them); false for words, bigrams, shapes. */
export function isCharacterNgramFeature(feature: string): boolean {
  return feature.charCodeAt(0) === 0x63; /* c */
}

export function featureId(feature: string, buckets: number): number {
  return (fnv1a(feature) % buckets) + 1;
}

// Lookup maps per vocabulary array; configs are copied freely but share the array, so this builds one map each.
const vocabularyIndexes = new WeakMap<readonly string[], Map<string, number>>();

function vocabularyIndex(vocabulary: readonly string[]): Map<string, number> {
  let index = vocabularyIndexes.get(vocabulary);
  if (!index) {
    index = new Map(vocabulary.map((feature, position) => [feature, position + 1]));
    if (index.size !== vocabulary.length) throw new Error('encoder vocabulary has duplicate features');
    vocabularyIndexes.set(vocabulary, index);
  }
  return index;
}

/**
 * Feature ids of one token position under `config`: hashed, or vocabulary positions with the features outside
 * the vocabulary dropped. Every encoding path (training's encodeTokens and serving's token lists) must go through
 * this, or a vocabulary model would be served hashed ids.
 */
export function tokenFeatureIds(
  tokens: readonly string[],
  position: number,
  config: TextEncoderConfig,
): Int32Array {
  const features = tokenFeatureStrings(tokens, position, config);
  if (!config.vocabulary) return Int32Array.from(features, (feature) => featureId(feature, config.buckets));
  const index = vocabularyIndex(config.vocabulary);
  const ids: number[] = [];
  for (const feature of features) {
    const id = index.get(feature);
    if (id !== undefined) ids.push(id);
  }
  return Int32Array.from(ids);
}

/** Per-token feature ids, token by token (ragged); the building block of both layouts. */
export function encodeTokens(text: string, config: TextEncoderConfig): Int32Array[] {
  const tokens = tokenize(text, config);
  return tokens.map((_, position) => tokenFeatureIds(tokens, position, config));
}

/**
 * Learns a vocabulary from training texts: every feature string found in at least `minCount` texts (features
 * seen once cannot generalise and only add rows; `wordMinCount` may set another bar for word-level features, which
 * the sparse svm keeps even when seen once). Ordered by descending document frequency, ties by code-unit
 * order, so the same texts give the same ids on every machine. Returns a config that encodes with it.
 */
export function buildVocabulary(
  texts: Iterable<string>,
  config: TextEncoderConfig,
  minCount = 2,
  /** Texts a word-level feature (word, bigram, shape) needs instead, when those deserve another cut-off. */
  wordMinCount = minCount,
): TextEncoderConfig {
  for (const [name, value] of [
    ['minCount', minCount],
    ['wordMinCount', wordMinCount],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`vocabulary ${name} must be a positive integer, got ${value}`);
  }
  const documentFrequency = new Map<string, number>();
  for (const text of texts) {
    const tokens = tokenize(text, config);
    const seen = new Set<string>();
    tokens.forEach((_, position) => {
      for (const feature of tokenFeatureStrings(tokens, position, config)) seen.add(feature);
    });
    for (const feature of seen) documentFrequency.set(feature, (documentFrequency.get(feature) ?? 0) + 1);
  }
  const vocabulary = [...documentFrequency]
    .filter(([feature, count]) => count >= (isCharacterNgramFeature(feature) ? minCount : wordMinCount))
    .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
    .map(([feature]) => feature);
  if (vocabulary.length < 2) throw new Error(`vocabulary has ${vocabulary.length} features; need at least 2`);
  return resolveEncoderConfig({ ...config, vocabulary, buckets: vocabulary.length });
}

/** Flat bag of feature ids of one text, in first-seen order (deduplicated when the config says so). */
export function encodeBag(text: string, config: TextEncoderConfig): Int32Array {
  const perToken = encodeTokens(text, config);
  const ids: number[] = [];
  const seen = config.uniqueFeatures ? new Set<number>() : undefined;
  for (const tokenIds of perToken) {
    for (const id of tokenIds) {
      if (seen) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      ids.push(id);
    }
  }
  return Int32Array.from(ids);
}

/** A batch of bags padded with 0 to a common width: row-major [size, width]. */
export interface BagBatch {
  readonly ids: Int32Array;
  readonly size: number;
  readonly width: number;
}

/**
 * Packs bags into one zero-padded matrix. `maxWidth` caps features per text (the tail is dropped); `minWidth`
 * lets callers fix the shape (ONNX inputs of a fixed width).
 */
export function packBags(bags: readonly Int32Array[], maxWidth = 512, minWidth = 1): BagBatch {
  let width = minWidth;
  for (const bag of bags) width = Math.max(width, Math.min(bag.length, maxWidth));
  const ids = new Int32Array(bags.length * width);
  bags.forEach((bag, row) => ids.set(bag.length > width ? bag.subarray(0, width) : bag, row * width));
  return { ids, size: bags.length, width };
}

/** Per-token ids packed as [size, tokens, perToken] with 0 padding, for sequence models. */
export interface TokenGridBatch {
  readonly ids: Int32Array;
  readonly size: number;
  readonly tokens: number;
  readonly perToken: number;
}

export function packTokenGrids(
  texts: readonly string[],
  config: TextEncoderConfig,
  tokens: number = config.maxTokens,
  perToken = 32,
): TokenGridBatch {
  const ids = new Int32Array(texts.length * tokens * perToken);
  texts.forEach((text, row) => {
    encodeTokens(text, config).forEach((tokenIds, position) => {
      if (position >= tokens) return;
      const offset = (row * tokens + position) * perToken;
      ids.set(tokenIds.length > perToken ? tokenIds.subarray(0, perToken) : tokenIds, offset);
    });
  });
  return { ids, size: texts.length, tokens, perToken };
}

/** What a trained model records about its encoder, so serving rebuilds exactly the same one. */
export interface EncoderDescriptor {
  readonly version: string;
  readonly config: TextEncoderConfig;
}

export function describeEncoder(config: TextEncoderConfig): EncoderDescriptor {
  return { version: ENCODER_VERSION, config: { ...config } };
}

/** Rebuilds a config from a descriptor, refusing one written by an incompatible encoder version. */
export function encoderFromDescriptor(descriptor: EncoderDescriptor): TextEncoderConfig {
  if (!COMPATIBLE_ENCODER_VERSIONS.has(descriptor.version)) {
    throw new Error(
      `model was trained with encoder ${descriptor.version}, this build has ${ENCODER_VERSION}`,
    );
  }
  if (descriptor.version !== ENCODER_VERSION && descriptor.config.vocabulary !== undefined) {
    throw new Error(`encoder ${descriptor.version} has no vocabulary, but the descriptor carries one`);
  }
  return resolveEncoderConfig(descriptor.config);
}

/** Encodes texts straight into the exported models' input: int64 ids [size, width], 0-padded. */
export function encodeForOnnx(
  texts: readonly string[],
  config: TextEncoderConfig,
  maxWidth = 512,
): { ids: BigInt64Array; dims: [number, number] } {
  const batch = packBags(
    texts.map((text) => encodeBag(text, config)),
    maxWidth,
  );
  return { ids: BigInt64Array.from(batch.ids, (id) => BigInt(id)), dims: [batch.size, batch.width] };
}
