/**
 * Model inputs from token lists. Working from tokens (rather than raw text) lets occlusion drop one token and
 * re-encode exactly what the model would have seen had the trader not written it: the token's word and
 * character n-gram features and the bigrams it takes part in all disappear together.
 */
import { tokenFeatureIds, type TextEncoderConfig } from '../text/encoder';
import type { InputLayout } from '../model-package/manifest';

export interface OnnxIds {
  readonly ids: BigInt64Array;
  readonly dims: number[];
}

/** Bag ids of one token list, identical to `encodeBag` on the text the tokens came from. */
export function bagOfTokens(tokens: readonly string[], config: TextEncoderConfig): Int32Array {
  const ids: number[] = [];
  const seen = config.uniqueFeatures ? new Set<number>() : undefined;
  for (let position = 0; position < tokens.length; position++) {
    for (const id of tokenFeatureIds(tokens, position, config)) {
      if (seen) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      ids.push(id);
    }
  }
  return Int32Array.from(ids);
}

export interface LayoutOptions {
  readonly layout: InputLayout;
  /** Bag layout: ids kept per text. */
  readonly maxFeatures: number;
  /** Token-grid layout: ids kept per token. */
  readonly perToken: number;
}

/** Packs many token lists into one int64 input tensor of the manifest's layout. */
export function encodeTokenLists(
  lists: readonly (readonly string[])[],
  config: TextEncoderConfig,
  options: LayoutOptions,
): OnnxIds {
  if (options.layout === 'token_grid') {
    const tokens = config.maxTokens;
    const ids = new BigInt64Array(lists.length * tokens * options.perToken);
    lists.forEach((list, row) => {
      for (let position = 0; position < Math.min(list.length, tokens); position++) {
        const tokenIds = tokenFeatureIds(list, position, config);
        const offset = (row * tokens + position) * options.perToken;
        for (let f = 0; f < Math.min(tokenIds.length, options.perToken); f++) {
          ids[offset + f] = BigInt(tokenIds[f]!);
        }
      }
    });
    return { ids, dims: [lists.length, tokens, options.perToken] };
  }
  const bags = lists.map((list) => bagOfTokens(list, config));
  let width = 1;
  for (const bag of bags) width = Math.max(width, Math.min(bag.length, options.maxFeatures));
  const ids = new BigInt64Array(lists.length * width);
  bags.forEach((bag, row) => {
    const n = Math.min(bag.length, width);
    for (let i = 0; i < n; i++) ids[row * width + i] = BigInt(bag[i]!);
  });
  return { ids, dims: [lists.length, width] };
}

/** The token list with one position removed. */
export function withoutToken(tokens: readonly string[], position: number): string[] {
  return tokens.filter((_, i) => i !== position);
}
