import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { indexingPolicyFor } from '../../../infra/components/cosmos';
import { cosmosContainers, cosmosQueriedProperties } from '../../../infra/settings';
import { COSMOS_CONTAINERS } from '../../../shared/platform/resources';

const repoRoot = join(__dirname, '../../..');

function typeScriptFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return typeScriptFilesUnder(path);
    return entry.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Properties the app's Cosmos SQL filters on, read from the query text in shared/ and training/: every
 * `alias.property` after a WHERE (the app's queries keep each WHERE clause on one line and use one-letter
 * aliases).
 */
function filteredProperties(): Set<string> {
  const found = new Set<string>();
  for (const file of ['shared', 'training'].flatMap((dir) => typeScriptFilesUnder(join(repoRoot, dir)))) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const at = line.indexOf(' WHERE ');
      if (at < 0 || /^\s*(\/\/|\*)/.test(line)) continue;
      for (const match of line.slice(at).matchAll(/\b[a-z]\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)/g)) {
        found.add(match[1]!);
      }
    }
  }
  return found;
}

describe('Cosmos indexing policies', () => {
  it('index exactly the properties the app queries filter on, no more and no fewer', () => {
    const filtered = filteredProperties();
    // A scan that found nothing would make the comparison below vacuous.
    expect(filtered.size).toBeGreaterThanOrEqual(8);
    const indexed = new Set(Object.values(cosmosQueriedProperties).flat());
    expect([...filtered].sort()).toEqual([...indexed].sort());
  });

  it('declare a policy for every container the app declares', () => {
    expect(Object.keys(cosmosQueriedProperties).sort()).toEqual(Object.keys(COSMOS_CONTAINERS).sort());
    expect(cosmosContainers.map((c) => c.name).sort()).toEqual(
      Object.values(COSMOS_CONTAINERS)
        .map((c) => c.id)
        .sort(),
    );
  });

  it('turn dotted properties into scalar paths, once each, and exclude the rest', () => {
    expect(indexingPolicyFor(['createdAt', 'retraining.startedAt', 'createdAt'])).toEqual({
      indexingMode: 'consistent',
      automatic: true,
      includedPaths: [{ path: '/createdAt/?' }, { path: '/retraining/startedAt/?' }],
      excludedPaths: [{ path: '/*' }, { path: '/"_etag"/?' }],
    });
    expect(indexingPolicyFor([]).includedPaths).toEqual([]);
  });

  it.each(['', 'a..b', '/createdAt/?', 'c.createdAt ', 'latency-ms'])(
    'refuse the property path %j',
    (path) => {
      expect(() => indexingPolicyFor([path])).toThrow(/is not a Cosmos property path/);
    },
  );
});
