/** Generated declaration-like texts: words, quantities, part numbers, punctuation, empty and over-long lines. */
import { createRandom } from '../../../../shared/math/random';

const WORDS = [
  'plastic',
  'bottles',
  'steel',
  'screws',
  'cotton',
  'shirts',
  'used',
  'cooking',
  'utensils',
  'spare',
  'parts',
  'for',
  'motor',
  'vehicles',
  'frozen',
  'fish',
  'fillets',
  'ctns',
  'pcs',
  'of',
  'glass',
  'jars',
  'lamp',
  'led',
  'rubber',
  'tyres',
  'wooden',
  'furniture',
  'chairs',
  'paper',
  'cartons',
  'laptop',
  'battery',
  'cable',
  'pump',
];

export function generatedTexts(count: number, seed: number): string[] {
  const rng = createRandom(seed);
  const texts: string[] = [''];
  while (texts.length < count) {
    const length = rng.next() < 0.05 ? 30 + rng.int(20) : 1 + rng.int(9);
    const parts: string[] = [];
    for (let i = 0; i < length; i++) {
      const kind = rng.next();
      if (kind < 0.7) parts.push(WORDS[rng.int(WORDS.length)]!.toUpperCase());
      else if (kind < 0.85) parts.push(String(1 + rng.int(500)) + (rng.next() < 0.5 ? 'ML' : ''));
      else if (kind < 0.95) parts.push(`AB-${rng.int(10000)}X${rng.int(99)}`);
      else parts.push(rng.next() < 0.5 ? '-' : '[16CM],');
    }
    texts.push(parts.join(' '));
  }
  return texts;
}
