/**
 * The registry as the serving side's `ModelSource`: `current()` is the champion alias, resolved on every call so
 * that a poller sees a promotion or rollback on its next look. `byVersion` serves any registered version, for
 * replaying an older prediction.
 */
import type { ModelSource } from '../inference/provider';
import type { PackageFiles } from '../model-package/package';
import type { ModelRegistry } from './registry';
import type { AliasName } from './types';

export function registryModelSource(registry: ModelRegistry, alias: AliasName = 'champion'): ModelSource {
  return {
    current: async (): Promise<PackageFiles> => {
      const aliases = await registry.aliases();
      const record = aliases[alias];
      if (record === undefined) throw new Error(`the registry has no ${alias}: nothing to serve`);
      return registry.packageFiles(record);
    },
    byVersion: async (modelVersion) => {
      const record = await registry.get(modelVersion);
      return record === undefined ? undefined : registry.packageFiles(record);
    },
  };
}
