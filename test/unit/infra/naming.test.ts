import { hostOfEndpoint } from '../../../infra/components/messaging';
import { deterministicGuid, resourceNames, slugify, uniqueSuffix } from '../../../infra/naming';

describe('uniqueSuffix', () => {
  it('is stable for one stack and differs across subscriptions and stacks', () => {
    const base = uniqueSuffix('sub-a', 'hs-mlops', 'dev');
    expect(uniqueSuffix('sub-a', 'hs-mlops', 'dev')).toBe(base);
    expect(uniqueSuffix('sub-b', 'hs-mlops', 'dev')).not.toBe(base);
    expect(uniqueSuffix('sub-a', 'hs-mlops', 'prod')).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('resourceNames', () => {
  const longestPrefix = 'abcdefghijk';
  const names = resourceNames(longestPrefix, 'Team/Feature_Branch', 'ffffffff');

  it('keeps storage account names within 3-24 lowercase letters and digits', () => {
    for (const name of [names.hostStorageAccount, names.dataStorageAccount]) {
      expect(name).toMatch(/^[a-z0-9]{3,24}$/);
    }
    expect(names.hostStorageAccount).not.toBe(names.dataStorageAccount);
  });

  it('produces valid global DNS labels for Cosmos DB, Service Bus and the Function App', () => {
    expect(names.cosmosAccount).toMatch(/^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$/);
    // Service Bus: 6-50 chars, starts with a letter, must not end in -sb or -mgmt.
    expect(names.serviceBusNamespace).toMatch(/^[a-z][a-z0-9-]{4,48}[a-z0-9]$/);
    expect(names.serviceBusNamespace).not.toMatch(/-(sb|mgmt)$/);
    expect(names.functionApp).toMatch(/^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$/);
  });

  it('derives a durable task hub name of letters and digits only', () => {
    expect(names.durableTaskHub).toMatch(/^[a-z][a-z0-9]{2,44}$/);
  });

  it('slugs the stack into the resource group name', () => {
    expect(names.resourceGroup).toBe('rg-abcdefghijk-team-feature-branch');
  });

  it('rejects a prefix or suffix that would break naming rules', () => {
    expect(() => resourceNames('HS', 'dev', 'abc')).toThrow(/name prefix 'HS'/);
    expect(() => resourceNames('hsmlops', 'dev', 'AB-1')).toThrow(/name suffix/);
    expect(() => slugify('///')).toThrow(/no letters or digits/);
  });
});

describe('deterministicGuid', () => {
  it('is a version-5 style GUID, stable for the same parts and distinct otherwise', () => {
    const guid = deterministicGuid('scope', 'principal', 'role');
    expect(guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicGuid('scope', 'principal', 'role')).toBe(guid);
    expect(deterministicGuid('scope', 'principal', 'other-role')).not.toBe(guid);
    // Parts are delimited, so shifting characters between them changes the result.
    expect(deterministicGuid('scopep', 'rincipal', 'role')).not.toBe(guid);
  });
});

describe('hostOfEndpoint', () => {
  it('extracts the fully qualified namespace from a Service Bus endpoint', () => {
    expect(hostOfEndpoint('https://ns1.servicebus.windows.net:443/')).toBe('ns1.servicebus.windows.net');
    expect(hostOfEndpoint('https://ns1.servicebus.chinacloudapi.cn:443/')).toBe(
      'ns1.servicebus.chinacloudapi.cn',
    );
  });

  it('fails on a value that is not a URL', () => {
    expect(() => hostOfEndpoint('not a url')).toThrow();
  });
});
