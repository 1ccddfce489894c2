import { createHash } from 'node:crypto';

/**
 * Physical names for globally unique Azure resources. Pure functions so the naming rules are unit-tested
 * without a Pulumi engine.
 */

/** Short stem for every resource name: lowercase letter first, then letters or digits, 3 to 11 characters. */
export const namePrefixPattern = /^[a-z][a-z0-9]{2,10}$/;

const suffixLength = 8;

/**
 * A stable suffix from subscription, project and stack: the same stack always gets the same names (so
 * `pulumi up` is idempotent), and two stacks or subscriptions do not collide on global names.
 */
export function uniqueSuffix(subscriptionId: string, project: string, stack: string): string {
  return createHash('sha256')
    .update(`${subscriptionId}/${project}/${stack}`)
    .digest('hex')
    .slice(0, suffixLength);
}

export interface ResourceNames {
  readonly resourceGroup: string;
  readonly hostStorageAccount: string;
  readonly dataStorageAccount: string;
  readonly cosmosAccount: string;
  readonly serviceBusNamespace: string;
  readonly appServicePlan: string;
  readonly functionApp: string;
  readonly logAnalyticsWorkspace: string;
  readonly appInsights: string;
  readonly durableTaskHub: string;
  /** Action group the alerts notify; its short name (at most 12 characters) is the prefix. */
  readonly alertActionGroup: string;
  readonly serverErrorAlert: string;
  readonly latencyAlert: string;
}

/** Lowercase, hyphen-separated form of a stack name for resource group names. */
export function slugify(value: string): string {
  const slug = value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug.length === 0) {
    throw new Error(`cannot derive a resource name from '${value}': it has no letters or digits`);
  }
  return slug;
}

/**
 * Every resource name of one stack. Storage accounts allow 3-24 lowercase letters and digits; Cosmos DB,
 * Service Bus and Function App names must be globally unique DNS labels; a durable task hub allows letters and
 * digits only (the prefix pattern guarantees it, and the default matches the app's default hub `hsmlops`).
 */
export function resourceNames(prefix: string, stack: string, suffix: string): ResourceNames {
  if (!namePrefixPattern.test(prefix)) {
    throw new Error(`name prefix '${prefix}' must match ${namePrefixPattern.source}`);
  }
  if (!/^[a-z0-9]+$/.test(suffix)) {
    throw new Error(`name suffix '${suffix}' must be lowercase letters and digits`);
  }
  const stackSlug = slugify(stack);
  return {
    resourceGroup: `rg-${prefix}-${stackSlug}`,
    hostStorageAccount: `${prefix}host${suffix}`,
    dataStorageAccount: `${prefix}data${suffix}`,
    cosmosAccount: `${prefix}-cosmos-${suffix}`,
    serviceBusNamespace: `${prefix}-bus-${suffix}`,
    appServicePlan: `${prefix}-plan-${suffix}`,
    functionApp: `${prefix}-func-${suffix}`,
    logAnalyticsWorkspace: `${prefix}-logs-${suffix}`,
    appInsights: `${prefix}-ai-${suffix}`,
    durableTaskHub: prefix,
    alertActionGroup: `${prefix}-alerts-${suffix}`,
    serverErrorAlert: `${prefix}-api-5xx-rate-${suffix}`,
    latencyAlert: `${prefix}-api-p95-latency-${suffix}`,
  };
}

/**
 * A GUID derived from its parts, for names Azure requires to be GUIDs (role assignments). Deterministic, so a
 * re-run does not create a second assignment; formatted as an RFC 4122 name-based (version 5 style) UUID.
 */
export function deterministicGuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `5${hex.slice(13, 16)}`,
    `${variant}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join('-');
}
