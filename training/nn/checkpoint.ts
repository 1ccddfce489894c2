/**
 * Training checkpoints: parameters, optimiser state, progress counters and RNG state in one file, so a training
 * run that dies (activity timeout, host restart) resumes where the last epoch ended and reaches the same weights.
 *
 * Format: magic "HSCK", uint32 header length, JSON header, zero padding to 4 bytes, then the float32 arrays in
 * header order (little-endian). Written to a temporary file and renamed, so a crash never leaves half a checkpoint.
 */
import { promises as fs } from 'node:fs';
import { OptimizerState } from './optimizer';
import { Parameter } from './parameter';

const MAGIC = 'HSCK';

export interface CheckpointData {
  /** Epochs completed. */
  epoch: number;
  /** Optimiser steps completed. */
  step: number;
  /** Shuffling RNG state after `epoch` epochs. */
  rngState: number;
  optimizer: OptimizerState;
  /** Anything else the trainer needs (best validation score, patience counter, config hash). */
  extra: Record<string, unknown>;
}

interface Header {
  epoch: number;
  step: number;
  rngState: number;
  optimizerStep: number;
  extra: Record<string, unknown>;
  arrays: { name: string; length: number }[];
}

export async function saveCheckpoint(
  path: string,
  parameters: readonly Parameter[],
  data: CheckpointData,
): Promise<void> {
  const arrays: { name: string; values: Float32Array }[] = [
    ...parameters.map((p) => ({ name: `param:${p.name}`, values: p.value })),
    ...data.optimizer.slots.map((values, i) => ({ name: `slot:${i}`, values })),
  ];
  const header: Header = {
    epoch: data.epoch,
    step: data.step,
    rngState: data.rngState,
    optimizerStep: data.optimizer.step,
    extra: data.extra,
    arrays: arrays.map((a) => ({ name: a.name, length: a.values.length })),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(json.length, 4);
  const padding = Buffer.alloc((4 - ((8 + json.length) % 4)) % 4);
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await fs.open(temporary, 'w');
  try {
    await handle.write(Buffer.concat([prefix, json, padding]));
    for (const a of arrays)
      await handle.write(new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.byteLength));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, path);
}

/** Loads a checkpoint into `parameters` (same names and sizes) and returns the rest of its contents. */
export async function loadCheckpoint(
  path: string,
  parameters: readonly Parameter[],
): Promise<CheckpointData> {
  const bytes = await fs.readFile(path);
  if (bytes.toString('ascii', 0, 4) !== MAGIC) throw new Error(`${path} is not a checkpoint`);
  const headerLength = bytes.readUInt32LE(4);
  const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as Header;
  let offset = 8 + headerLength;
  offset += (4 - (offset % 4)) % 4;
  const read = (length: number): Float32Array => {
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + length * 4));
    offset += length * 4;
    return out;
  };
  const slots: Float32Array[] = [];
  let parameterIndex = 0;
  for (const entry of header.arrays) {
    const values = read(entry.length);
    if (entry.name.startsWith('param:')) {
      const p = parameters[parameterIndex++];
      if (!p || `param:${p.name}` !== entry.name || p.size !== entry.length) {
        throw new Error(`checkpoint ${path}: ${entry.name} does not match the model's parameters`);
      }
      p.value.set(values);
    } else {
      slots.push(values);
    }
  }
  if (parameterIndex !== parameters.length) throw new Error(`checkpoint ${path} lacks some model parameters`);
  if (offset !== bytes.length)
    throw new Error(`checkpoint ${path} has ${bytes.length - offset} trailing bytes`);
  return {
    epoch: header.epoch,
    step: header.step,
    rngState: header.rngState,
    optimizer: { step: header.optimizerStep, slots },
    extra: header.extra,
  };
}
