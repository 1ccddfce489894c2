import {
  DEFAULT_ENCODER_CONFIG,
  ENCODER_VERSION,
  buildVocabulary,
  isCharacterNgramFeature,
  describeEncoder,
  encodeBag,
  encodeForOnnx,
  encodeTokens,
  encoderFromDescriptor,
  fnv1a,
  normalizeText,
  packBags,
  packTokenGrids,
  featureId,
  resolveEncoderConfig,
  tokenFeatureIds,
  tokenFeatureStrings,
  tokenize,
} from '../../../../shared/text/encoder';

const config = resolveEncoderConfig();

describe('normalizeText', () => {
  it('applies NFKC, case folding, accent stripping and punctuation removal', () => {
    expect(normalizeText('ＣＡＦÉ Crème-Brûlée!!')).toBe('cafe creme brulee');
    expect(normalizeText('  WATER   BOTTLES[500ML] ')).toBe('water bottles 500ml');
  });

  it('keeps decimal points so 1.1KW stays one number', () => {
    expect(normalizeText('MOTOR 1.1KW, 3/PH')).toBe('motor 1.1kw 3 ph');
  });
});

describe('tokenize', () => {
  it('splits numbers from units and maps numbers to shape tokens', () => {
    expect(tokenize('PLASTIC WATER BOTTLES[500ML]', config)).toEqual([
      'plastic',
      'water',
      'bottles',
      '~9a',
      '#3',
      'ml',
    ]);
    expect(tokenize('1.1KW', config)).toEqual(['~9.9a', '#1.1', 'kw']);
    expect(tokenize('12x100 PCS', config)).toEqual(['~9a9', '#2', 'x', '#3', 'pcs']);
  });

  it('keeps numbers verbatim and skips shapes when configured', () => {
    const keep = resolveEncoderConfig({ numbers: 'keep', partNumberShapes: false });
    expect(tokenize('500ML e.g. 1.5', keep)).toEqual(['500', 'ml', 'e', 'g', '1.5']);
  });

  it('does not split letters from digits when splitting is off', () => {
    const whole = resolveEncoderConfig({ splitAlphaNumeric: false, partNumberShapes: false });
    expect(tokenize('AB12 cd', whole)).toEqual(['ab12', 'cd']);
  });

  it('cuts at maxTokens', () => {
    expect(tokenize('a b c d e f', resolveEncoderConfig({ maxTokens: 3 }))).toEqual(['a', 'b', 'c']);
  });
});

describe('feature ids', () => {
  it('uses 32-bit FNV-1a (golden values)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('is deterministic and within [1, buckets]', () => {
    const small = resolveEncoderConfig({ buckets: 97 });
    const a = encodeBag('Ladies cotton T-SHIRTS 12x100 PCS', small);
    const b = encodeBag('Ladies cotton T-SHIRTS 12x100 PCS', small);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.length).toBeGreaterThan(10);
    for (const id of a) {
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(97);
    }
  });

  it('deduplicates bag ids only when uniqueFeatures is set', () => {
    const unique = encodeBag('shoe shoe shoe', config);
    const repeated = encodeBag('shoe shoe shoe', resolveEncoderConfig({ uniqueFeatures: false }));
    expect(new Set(unique).size).toBe(unique.length);
    expect(repeated.length).toBeGreaterThan(unique.length);
  });

  it('gives each token its word, char n-grams and the bigram ending there', () => {
    const noBigrams = resolveEncoderConfig({ wordBigrams: false });
    const [first, second] = encodeTokens('cup set', config);
    // "<cup>": 3-grams <cu cup up> (3), 4-grams <cup cup> (2); the 5-gram is the whole word, already counted.
    expect(first!.length).toBe(1 + 3 + 2);
    expect(second!.length).toBe(1 + 3 + 2 + 1);
    expect(encodeTokens('cup set', noBigrams)[1]!.length).toBe(1 + 3 + 2);
  });
});

describe('packing', () => {
  it('pads bags with 0 to the widest row and truncates at maxWidth', () => {
    const batch = packBags([Int32Array.of(5, 6, 7), Int32Array.of(9)], 2);
    expect(batch.width).toBe(2);
    expect(Array.from(batch.ids)).toEqual([5, 6, 9, 0]);
  });

  it('encodes texts into the int64 [size, width] tensor the exported models take', () => {
    const { ids, dims } = encodeForOnnx(['cup set', 'x'], config);
    const first = encodeBag('cup set', config);
    expect(dims).toEqual([2, first.length]);
    expect(Array.from(ids.subarray(0, first.length), Number)).toEqual(Array.from(first));
    expect(ids[dims[1] + 1]).toBe(0n);
  });

  it('packs token grids as [size, tokens, perToken]', () => {
    const grid = packTokenGrids(['cup set', 'x'], config, 4, 8);
    expect(grid.ids.length).toBe(2 * 4 * 8);
    const row0 = Array.from(grid.ids.subarray(0, 8));
    expect(row0.slice(0, 6).every((id) => id > 0)).toBe(true);
    expect(row0.slice(6)).toEqual([0, 0]);
    expect(Array.from(grid.ids.subarray(2 * 8, 4 * 8)).every((id) => id === 0)).toBe(true);
  });
});

describe('config and descriptor', () => {
  it('rejects invalid settings', () => {
    expect(() => resolveEncoderConfig({ buckets: 1 })).toThrow(RangeError);
    expect(() => resolveEncoderConfig({ charNgramMin: 4, charNgramMax: 3 })).toThrow(RangeError);
    expect(() => resolveEncoderConfig({ maxTokens: 0 })).toThrow(RangeError);
  });

  it('round-trips through a JSON descriptor and refuses other versions', () => {
    const descriptor = JSON.parse(JSON.stringify(describeEncoder(config)));
    expect(descriptor.version).toBe(ENCODER_VERSION);
    expect(encoderFromDescriptor(descriptor)).toEqual(DEFAULT_ENCODER_CONFIG);
    expect(() => encoderFromDescriptor({ ...descriptor, version: 'hs-text-0' })).toThrow(/encoder hs-text-0/);
  });
});

describe('learned vocabulary', () => {
  const texts = ['steel screws', 'steel bolts', 'cotton shirts', 'steel screws m6', 'unique gadget'];
  const vocabularyConfig = buildVocabulary(texts, config, 2);

  it('keeps features of at least minCount texts, most frequent first, ids in vocabulary order', () => {
    const vocabulary = vocabularyConfig.vocabulary!;
    expect(vocabularyConfig.buckets).toBe(vocabulary.length);
    // 'steel' is in three texts, 'screws' in two; ties go by code-unit order ('c<st' before 'wsteel').
    expect(vocabulary[0]).toBe('c<st');
    expect(vocabulary.indexOf('wsteel')).toBeLessThan(vocabulary.indexOf('wscrews'));
    expect(vocabulary).toContain('wscrews');
    expect(vocabulary).toContain('bsteel screws');
    expect(vocabulary).not.toContain('wcotton');
    expect(vocabulary).not.toContain('wgadget');
    expect(new Set(vocabulary).size).toBe(vocabulary.length);
    expect(buildVocabulary([...texts].reverse(), config, 2).vocabulary).toEqual(vocabulary);
  });

  it('can keep word-level features at a lower count than character n-grams (wordMinCount)', () => {
    const vocabulary = buildVocabulary(texts, config, 2, 1).vocabulary!;
    // Words, bigrams and shapes seen once are in; n-grams still need two texts.
    expect(vocabulary).toContain('wgadget');
    expect(vocabulary).toContain('bunique gadget');
    expect(vocabulary).not.toContain('c<gad');
    expect(vocabulary.filter((f) => isCharacterNgramFeature(f))).toEqual(
      vocabularyConfig.vocabulary!.filter((f) => isCharacterNgramFeature(f)),
    );
    expect(isCharacterNgramFeature('c<st')).toBe(true);
    expect(isCharacterNgramFeature('wsteel')).toBe(false);
    expect(isCharacterNgramFeature('bsteel screws')).toBe(false);
    expect(() => buildVocabulary(texts, config, 2, 0)).toThrow(/wordMinCount/);
  });

  it('encodes known features to their exact ids and drops unknown ones', () => {
    const vocabulary = vocabularyConfig.vocabulary!;
    const tokens = tokenize('steel screws', vocabularyConfig);
    const expected = tokens.flatMap((_, p) =>
      tokenFeatureStrings(tokens, p, vocabularyConfig).map((f) => vocabulary.indexOf(f) + 1),
    );
    expect(expected.every((id) => id > 0)).toBe(true);
    expect(Array.from(encodeBag('steel screws', vocabularyConfig))).toEqual([...new Set(expected)]);
    expect(Array.from(encodeBag('unique gadget', vocabularyConfig))).toEqual([]);
    const mixed = encodeBag('steel gadget', vocabularyConfig);
    expect(mixed.length).toBeGreaterThan(0);
    expect(Array.from(mixed).every((id) => id >= 1 && id <= vocabulary.length)).toBe(true);
    expect(Array.from(mixed)).toContain(vocabulary.indexOf('wsteel') + 1);
  });

  it('gives per-position ids (vocabulary positions, or hash buckets without a vocabulary) as encodeTokens does', () => {
    const tokens = tokenize('steel gadget screws', vocabularyConfig);
    const vocabulary = vocabularyConfig.vocabulary!;
    tokens.forEach((_, p) => {
      const known = tokenFeatureStrings(tokens, p, vocabularyConfig).filter((f) => vocabulary.includes(f));
      expect(Array.from(tokenFeatureIds(tokens, p, vocabularyConfig))).toEqual(
        known.map((f) => vocabulary.indexOf(f) + 1),
      );
      expect(Array.from(tokenFeatureIds(tokens, p, config))).toEqual(
        tokenFeatureStrings(tokens, p, config).map((f) => featureId(f, config.buckets)),
      );
    });
    // 'gadget' is in one text only: none of its features survive.
    expect(tokenFeatureIds(tokens, 1, vocabularyConfig).length).toBe(0);
    expect(encodeTokens('steel gadget screws', vocabularyConfig).map((ids) => Array.from(ids))).toEqual(
      tokens.map((_, p) => Array.from(tokenFeatureIds(tokens, p, vocabularyConfig))),
    );
  });

  it('round-trips through a JSON descriptor and still reads hs-text-1 descriptors without one', () => {
    const descriptor = JSON.parse(JSON.stringify(describeEncoder(vocabularyConfig)));
    const restored = encoderFromDescriptor(descriptor);
    expect(restored).toEqual(vocabularyConfig);
    expect(Array.from(encodeBag('steel bolts', restored))).toEqual(
      Array.from(encodeBag('steel bolts', vocabularyConfig)),
    );
    expect(encoderFromDescriptor({ version: 'hs-text-1', config })).toEqual(DEFAULT_ENCODER_CONFIG);
    expect(() => encoderFromDescriptor({ ...descriptor, version: 'hs-text-1' })).toThrow(/no vocabulary/);
  });

  it('rejects a vocabulary whose size differs from buckets, duplicates, and a bad minCount', () => {
    expect(() => resolveEncoderConfig({ vocabulary: ['wa', 'wb'], buckets: 3 })).toThrow(/vocabulary size/);
    expect(() => encodeBag('a', resolveEncoderConfig({ vocabulary: ['wa', 'wa'], buckets: 2 }))).toThrow(
      /duplicate/,
    );
    expect(() => buildVocabulary(texts, config, 0)).toThrow(RangeError);
  });
});
