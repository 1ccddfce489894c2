import { Random } from '../../shared/math/random';
import { BagBatch, packBags } from '../../shared/text/encoder';
import type { ExampleSet } from '../trainer';
import { BagNetwork, BagNetworkConfig } from './bag';
import { LinearModel, LinearModelConfig } from './linear';
import { Model } from './model';

export type BagModelConfig = LinearModelConfig | BagNetworkConfig;
export type BagModel = LinearModel | BagNetwork;

/** Builds an architecture from its config; the same config and seed give the same initial weights. */
export function createBagModel(config: BagModelConfig, rng: Random): BagModel & Model<BagBatch> {
  switch (config.kind) {
    case 'linear':
      return new LinearModel(config, rng);
    case 'bag':
    case 'dnn':
      return new BagNetwork(config, rng);
  }
}

export { BagNetwork, LinearModel };
export type { BagNetworkConfig, LinearModelConfig };

/**
 * Example set over encoded bags for the trainer. `maxWidth` caps ids per text (default 512: with the default
 * encoder the development data has a mean of 79 ids, 99th percentile 214, maximum 459, so nothing is cut).
 */
export function bagExamples(
  bags: readonly Int32Array[],
  labels: Int32Array,
  maxWidth = 512,
): ExampleSet<BagBatch> {
  if (bags.length !== labels.length) throw new Error(`${bags.length} bags but ${labels.length} labels`);
  return {
    size: bags.length,
    labels,
    batch: (indices) =>
      packBags(
        Array.from(indices, (i) => bags[i]!),
        maxWidth,
      ),
  };
}
