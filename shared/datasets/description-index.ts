/**
 * What duplicate and conflict detection keeps per distinct description: a 64-bit hash of the normalised text,
 * the label it carried (or "conflicting"), and the first row it appeared on; 16 bytes a slot in typed arrays,
 * whatever the text's length. Open addressing with linear probing, doubling at 50 % load.
 *
 * Two distinct descriptions share a 64-bit hash with probability about n² / 2^65 (1e-5 at 20 million distinct
 * descriptions); such a pair would be judged as one description.
 */
import { hash } from 'node:crypto';

/** `labelId` of a description seen with more than one label. */
export const CONFLICTING = -1;

export interface DescriptionEntry {
  /** Label id (caller's numbering) or `CONFLICTING`. */
  readonly labelId: number;
  /** First row with this description. */
  readonly firstRow: number;
}

export class DescriptionIndex {
  #hi: Uint32Array;
  #lo: Uint32Array;
  /** Label id + 2, so that 0 marks an empty slot and 1 marks CONFLICTING. */
  #label: Int32Array;
  #firstRow: Uint32Array;
  #size = 0;

  constructor(initialCapacity = 1024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#label = new Int32Array(capacity);
    this.#firstRow = new Uint32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table, for memory reports. */
  get byteLength(): number {
    return this.#hi.byteLength + this.#lo.byteLength + this.#label.byteLength + this.#firstRow.byteLength;
  }

  /** Records that `row` carries `labelId` for `normalisedDescription`. */
  observe(normalisedDescription: string, labelId: number, row: number): void {
    if (labelId < 0) throw new Error(`label id must be >= 0, got ${labelId}`);
    const [hi, lo] = hash64(normalisedDescription);
    const slot = this.#find(hi, lo);
    const stored = this.#label[slot]!;
    if (stored === 0) {
      this.#hi[slot] = hi;
      this.#lo[slot] = lo;
      this.#label[slot] = labelId + 2;
      this.#firstRow[slot] = row;
      this.#size++;
      if (this.#size * 2 > this.#label.length) this.#grow();
    } else if (stored !== labelId + 2) {
      this.#label[slot] = CONFLICTING + 2;
    }
  }

  lookup(normalisedDescription: string): DescriptionEntry | undefined {
    const [hi, lo] = hash64(normalisedDescription);
    const slot = this.#find(hi, lo);
    const stored = this.#label[slot]!;
    return stored === 0 ? undefined : { labelId: stored - 2, firstRow: this.#firstRow[slot]! };
  }

  /** The slot holding (hi, lo), or the empty slot where it belongs. */
  #find(hi: number, lo: number): number {
    const mask = this.#label.length - 1;
    for (let slot = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask; ; slot = (slot + 1) & mask) {
      if (this.#label[slot] === 0 || (this.#hi[slot] === hi && this.#lo[slot] === lo)) return slot;
    }
  }

  #grow(): void {
    const hi = this.#hi;
    const lo = this.#lo;
    const label = this.#label;
    const firstRow = this.#firstRow;
    const capacity = label.length * 2;
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#label = new Int32Array(capacity);
    this.#firstRow = new Uint32Array(capacity);
    for (let old = 0; old < label.length; old++) {
      if (label[old] === 0) continue;
      const slot = this.#find(hi[old]!, lo[old]!);
      this.#hi[slot] = hi[old]!;
      this.#lo[slot] = lo[old]!;
      this.#label[slot] = label[old]!;
      this.#firstRow[slot] = firstRow[old]!;
    }
  }
}

function hash64(text: string): [number, number] {
  const digest = hash('sha1', text, 'buffer');
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}
