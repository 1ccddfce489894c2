/**
 * App settings as bindings see them: `%Name%` expressions in binding options resolve from settings, and a
 * binding's `connection` names a setting that holds a storage connection string (an unnamed connection means
 * `AzureWebJobsStorage`, as in the Functions host).
 */
export type AppSettings = Readonly<Record<string, string | undefined>>;

export function resolveSettingExpressions(value: string, settings: AppSettings): string {
  return value.replace(/%([^%]+)%/g, (_all, name: string) => {
    const resolved = settings[name];
    if (resolved === undefined || resolved === '') {
      throw new Error(`Binding expression "%${name}%" names an app setting that is not set`);
    }
    return resolved;
  });
}

export function storageConnectionString(connection: unknown, settings: AppSettings): string {
  const name = typeof connection === 'string' && connection !== '' ? connection : 'AzureWebJobsStorage';
  const value = settings[name] ?? settings[`AzureWebJobs${name}`];
  if (value === undefined || value === '') {
    const identityBased = Object.keys(settings).some((k) => k.startsWith(`${name}__`));
    throw new Error(
      `Storage connection "${name}" is not set${
        identityBased
          ? ' (identity-based settings are not supported locally: set it to a connection string)'
          : ''
      }`,
    );
  }
  return value;
}

/** A string option of a binding, with `%Setting%` expressions resolved; a missing option is an error. */
export function bindingOption(
  binding: Readonly<Record<string, unknown>>,
  option: string,
  where: string,
  settings: AppSettings,
): string {
  const value = binding[option];
  if (typeof value !== 'string' || value === '') {
    throw new Error(`${where}: binding option "${option}" must be a non-empty string`);
  }
  return resolveSettingExpressions(value, settings);
}
