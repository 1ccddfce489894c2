/**
 * Generated labelled declaration lines over real HS 2022 subheadings: each code has its own vocabulary, lines mix
 * two or three of its words with shared filler, quantities and part numbers, and a share of lines borrows a word
 * of a neighbouring code, so models are good but not perfect and thresholds have something to choose.
 */
import { createRandom } from '../../../../shared/math/random';

const CODE_WORDS: Record<string, readonly string[]> = {
  '610910': ['tshirt', 'cotton', 'knitted', 'tee', 'crew'],
  '610990': ['tshirt', 'polyester', 'synthetic', 'tee', 'sport'],
  '620342': ['trousers', 'denim', 'jeans', 'mens', 'cotton'],
  '640299': ['shoes', 'rubber', 'sole', 'sandals', 'slippers'],
  '847130': ['laptop', 'notebook', 'portable', 'computer', 'ultrabook'],
  '847141': ['desktop', 'workstation', 'tower', 'computer', 'server'],
  '851713': ['smartphone', 'phone', 'android', 'mobile', 'cellular'],
  '852872': ['television', 'tv', 'led', 'smart', 'screen'],
  '090111': ['coffee', 'beans', 'arabica', 'green', 'unroasted'],
  '090121': ['coffee', 'roasted', 'ground', 'espresso', 'blend'],
  '030389': ['fish', 'frozen', 'fillets', 'whole', 'mackerel'],
  '392330': ['bottles', 'plastic', 'pet', 'preforms', 'containers'],
  '731815': ['screws', 'steel', 'bolts', 'hex', 'threaded'],
  '940161': ['chairs', 'upholstered', 'wooden', 'seats', 'armchair'],
  '870899': ['parts', 'vehicle', 'motor', 'bracket', 'spare'],
  '401110': ['tyres', 'radial', 'car', 'rubber', 'pneumatic'],
};
const FILLER = ['new', 'pcs', 'box', 'ctns', 'black', 'white', 'assorted', 'model', 'size', 'pack', 'brand'];

export const GENERATED_CODES = Object.keys(CODE_WORDS).sort();

export interface GeneratedRow {
  readonly description: string;
  readonly hsCode: string;
}

/** `count` rows, class sizes skewed (the largest class about 4x the smallest), deterministic in `seed`. */
export function generateRows(count: number, seed: number): GeneratedRow[] {
  const rng = createRandom(seed);
  const weights = GENERATED_CODES.map((_, i) => 1 + (3 * i) / GENERATED_CODES.length);
  const total = weights.reduce((a, b) => a + b, 0);
  const rows: GeneratedRow[] = [];
  for (let n = 0; n < count; n++) {
    let pick = rng.next() * total;
    let code = GENERATED_CODES[0]!;
    for (let i = 0; i < weights.length; i++) {
      pick -= weights[i]!;
      if (pick < 0) {
        code = GENERATED_CODES[i]!;
        break;
      }
    }
    const words = CODE_WORDS[code]!;
    const parts: string[] = [];
    const own = 2 + rng.int(2);
    for (let k = 0; k < own; k++) parts.push(words[rng.int(words.length)]!);
    if (rng.next() < 0.15) {
      const other = CODE_WORDS[GENERATED_CODES[rng.int(GENERATED_CODES.length)]!]!;
      parts.push(other[rng.int(other.length)]!);
    }
    if (rng.next() < 0.5) parts.push(FILLER[rng.int(FILLER.length)]!);
    if (rng.next() < 0.3) parts.push(`${1 + rng.int(500)}${rng.next() < 0.5 ? 'PCS' : ''}`);
    if (rng.next() < 0.2) parts.push(`AB${100 + rng.int(900)}X`);
    const text = parts.join(' ');
    rows.push({ description: rng.next() < 0.3 ? text.toUpperCase() : text, hsCode: code });
  }
  return rows;
}

export function rowsToCsv(rows: readonly GeneratedRow[]): string {
  return (
    ['description,hs_code', ...rows.map((r) => `"${r.description.replace(/"/g, '""')}",${r.hsCode}`)].join(
      '\n',
    ) + '\n'
  );
}
