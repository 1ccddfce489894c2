import {
  COSMOS_EMULATOR_ENDPOINT,
  COSMOS_EMULATOR_KEY,
  ConfigError,
  DEVELOPMENT_STORAGE,
  getConfig,
  loadConfig,
  parseConnectionString,
  resetConfigForTests,
} from '../../../shared/config';
import packageJson from '../../../package.json';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected loadConfig to throw');
}

const AZURE_IDENTITY_ENV = {
  AzureWebJobsStorage__accountName: 'hsmlopshost',
  DataStorage__accountName: 'hsmlopsdata',
  CosmosDb__accountEndpoint: 'https://hsmlops.documents.azure.com:443/',
};

describe('loadConfig defaults (local, nothing set)', () => {
  const config = loadConfig({});

  test('points at the emulators on their default ports', () => {
    expect(config.environment).toBe('local');
    expect(config.hostStorage).toEqual({
      kind: 'connectionString',
      connectionString: DEVELOPMENT_STORAGE,
      isDevelopmentStorage: true,
    });
    expect(config.dataStorage).toEqual(config.hostStorage);
    expect(config.cosmos).toEqual({
      kind: 'key',
      endpoint: COSMOS_EMULATOR_ENDPOINT,
      key: COSMOS_EMULATOR_KEY,
      allowSelfSignedCertificate: true,
    });
    expect(config.serviceBus).toBeUndefined();
  });

  test('uses the documented defaults for names, version and timeouts', () => {
    expect(config.cosmosDatabase).toBe('hsmlops');
    expect(config.durableTaskHub).toBe('hsmlops');
    expect(config.appVersion).toBe(packageJson.version);
    expect(config.healthTimeoutMs).toBe(2000);
  });

  test('is deeply frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.cosmos)).toBe(true);
    expect(() => {
      (config as any).cosmosDatabase = 'other';
    }).toThrow(TypeError);
    expect(() => {
      (config.cosmos as any).endpoint = 'https://evil.example/';
    }).toThrow(TypeError);
  });
});

describe('loadConfig connection strings (local)', () => {
  test('reads explicit settings and trims whitespace', () => {
    const config = loadConfig({
      AzureWebJobsStorage: ' UseDevelopmentStorage=true ',
      DataStorage:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:4100/devstoreaccount1;',
      CosmosDb: 'AccountEndpoint=https://localhost:4200/;AccountKey=a2V5PT0=;',
      ServiceBus:
        'Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;',
      COSMOS_DATABASE: 'testdb',
      DURABLE_TASK_HUB: 'TestHub1',
      APP_VERSION: '1.2.3+abc',
      HEALTH_TIMEOUT_MS: '750',
    });
    expect(config.hostStorage).toMatchObject({ kind: 'connectionString', isDevelopmentStorage: true });
    expect(config.dataStorage).toMatchObject({ kind: 'connectionString', isDevelopmentStorage: false });
    // The '=' inside a base64 key stays part of the value.
    expect(config.cosmos).toEqual({
      kind: 'key',
      endpoint: 'https://localhost:4200/',
      key: 'a2V5PT0=',
      allowSelfSignedCertificate: true,
    });
    expect(config.serviceBus).toMatchObject({ kind: 'connectionString' });
    expect(config).toMatchObject({
      cosmosDatabase: 'testdb',
      durableTaskHub: 'TestHub1',
      appVersion: '1.2.3+abc',
      healthTimeoutMs: 750,
    });
  });

  test.each([
    ['https://127.0.0.1:8081/', true],
    ['https://localhost:8081/', true],
    ['https://[::1]:8081/', true],
    ['https://127.10.0.3:8081/', true],
    ['http://127.0.0.1:8081/', false],
    ['https://hsmlops.documents.azure.com:443/', false],
    ['https://127.0.0.1.example.com/', false],
    ['https://localhost.example.com/', false],
  ])('TLS verification is relaxed for %s: %s', (endpoint, relaxed) => {
    const config = loadConfig({ CosmosDb: `AccountEndpoint=${endpoint};AccountKey=a2V5;` });
    expect(config.cosmos.allowSelfSignedCertificate).toBe(relaxed);
  });

  test('parseConnectionString is case-insensitive on keys and keeps = in values', () => {
    const parts = parseConnectionString('AccountEndpoint=https://x/;ACCOUNTKEY=ab==;');
    expect(parts.get('accountendpoint')).toBe('https://x/');
    expect(parts.get('accountkey')).toBe('ab==');
    expect(() => parseConnectionString('justtext')).toThrow(/not Key=Value/);
  });
});

describe('loadConfig identity-based access (azure)', () => {
  test('NAME__ settings select identity and HS_ENV defaults to azure', () => {
    const config = loadConfig({
      ...AZURE_IDENTITY_ENV,
      DataStorage__clientId: '00000000-0000-0000-0000-000000000001',
      ServiceBus__fullyQualifiedNamespace: 'hsmlops.servicebus.windows.net',
    });
    expect(config.environment).toBe('azure');
    expect(config.hostStorage).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://hsmlopshost.blob.core.windows.net',
      queueServiceUri: 'https://hsmlopshost.queue.core.windows.net',
      tableServiceUri: 'https://hsmlopshost.table.core.windows.net',
      clientId: undefined,
    });
    expect(config.dataStorage).toMatchObject({
      kind: 'identity',
      blobServiceUri: 'https://hsmlopsdata.blob.core.windows.net',
      queueServiceUri: 'https://hsmlopsdata.queue.core.windows.net',
      tableServiceUri: undefined,
      clientId: '00000000-0000-0000-0000-000000000001',
    });
    expect(config.cosmos).toEqual({
      kind: 'identity',
      endpoint: 'https://hsmlops.documents.azure.com:443/',
      clientId: undefined,
      allowSelfSignedCertificate: false,
    });
    expect(config.serviceBus).toEqual({
      kind: 'identity',
      fullyQualifiedNamespace: 'hsmlops.servicebus.windows.net',
      clientId: undefined,
    });
  });

  test('explicit service URIs win over the account name', () => {
    const config = loadConfig({
      ...AZURE_IDENTITY_ENV,
      DataStorage__accountName: '',
      DataStorage__blobServiceUri: 'https://data.privatelink.blob.core.windows.net',
    });
    expect(config.dataStorage).toMatchObject({
      blobServiceUri: 'https://data.privatelink.blob.core.windows.net',
      queueServiceUri: undefined,
    });
  });

  test('an App Service host with no settings at all is azure, and fails naming every missing connection', () => {
    const problems = problemsOf({ WEBSITE_SITE_NAME: 'hsmlops-func' });
    expect(problems).toEqual([
      expect.stringMatching(/^AzureWebJobsStorage: missing; set AzureWebJobsStorage__accountName/),
      expect.stringMatching(/^DataStorage: missing; set DataStorage__accountName/),
      expect.stringMatching(/^CosmosDb: missing; set CosmosDb__accountEndpoint/),
    ]);
  });

  test('azure refuses keys: every connection string is named', () => {
    const problems = problemsOf({
      HS_ENV: 'azure',
      AzureWebJobsStorage: DEVELOPMENT_STORAGE,
      DataStorage: 'AccountName=a;AccountKey=b;',
      CosmosDb: 'AccountEndpoint=https://x.documents.azure.com/;AccountKey=k;',
      ServiceBus: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=n;SharedAccessKey=k;',
    });
    for (const name of ['AzureWebJobsStorage', 'DataStorage', 'CosmosDb', 'ServiceBus']) {
      expect(problems).toContainEqual(
        expect.stringMatching(new RegExp(`^${name}: HS_ENV=azure requires identity`)),
      );
    }
    expect(problems).toHaveLength(4);
  });

  test('local may use identity settings too (developer signed in with az login)', () => {
    const config = loadConfig({ ...AZURE_IDENTITY_ENV, HS_ENV: 'local' });
    expect(config.environment).toBe('local');
    expect(config.cosmos.kind).toBe('identity');
  });
});

describe('loadConfig reports every problem in one error', () => {
  test('malformed and missing settings are all named', () => {
    const problems = problemsOf({
      HS_ENV: 'production',
      AzureWebJobsStorage: 'not a connection string',
      DataStorage__acountName: 'typo',
      CosmosDb: 'AccountEndpoint=https://127.0.0.1:8081/;',
      ServiceBus__fullyQualifiedNamespace: 'sb://with-scheme.servicebus.windows.net/',
      COSMOS_DATABASE: 'bad/name',
      DURABLE_TASK_HUB: '9-bad-hub',
      HEALTH_TIMEOUT_MS: '-5',
    });
    const expected = [
      /^HS_ENV: must be 'local' or 'azure', got 'production'/,
      /^AzureWebJobsStorage: malformed connection string: 'not a connection string' is not Key=Value/,
      /^DataStorage__acountName: unknown setting \(expected one of DataStorage__accountName,/,
      /^DataStorage: identity-based access needs DataStorage__accountName or DataStorage__blobServiceUri/,
      /^CosmosDb: malformed connection string: needs AccountEndpoint=\.\.\.;AccountKey=\.\.\.;/,
      /^COSMOS_DATABASE: 'bad\/name' is not a Cosmos database id/,
      /^ServiceBus__fullyQualifiedNamespace: 'sb:\/\/with-scheme.servicebus.windows.net\/' is not a host name/,
      /^DURABLE_TASK_HUB: '9-bad-hub' is not a task hub name/,
      /^HEALTH_TIMEOUT_MS: must be a positive integer, got '-5'/,
    ];
    expect(problems).toEqual(expected.map((pattern): unknown => expect.stringMatching(pattern)));
  });

  test('the error message lists every problem', () => {
    expect(() => loadConfig({ COSMOS_DATABASE: 'a#b', DURABLE_TASK_HUB: 'x' })).toThrow(
      /2 problem\(s\)[\s\S]*COSMOS_DATABASE[\s\S]*DURABLE_TASK_HUB/,
    );
  });

  test.each<[string, Record<string, string>, RegExp]>([
    [
      'both forms of one connection',
      {
        CosmosDb: `AccountEndpoint=${COSMOS_EMULATOR_ENDPOINT};AccountKey=k;`,
        CosmosDb__accountEndpoint: 'https://x/',
      },
      /^CosmosDb: set both as a connection string and as CosmosDb__accountEndpoint; choose one/,
    ],
    [
      'identity without an address',
      { CosmosDb__clientId: 'abc' },
      /^CosmosDb: identity-based access needs CosmosDb__accountEndpoint/,
    ],
    [
      'plain http to a remote host',
      { CosmosDb__accountEndpoint: 'http://hsmlops.documents.azure.com/' },
      /^CosmosDb__accountEndpoint: 'http:\/\/hsmlops.documents.azure.com\/' must be an https URL/,
    ],
    [
      'a relative URI',
      { DataStorage__blobServiceUri: 'data.blob.core.windows.net' },
      /^DataStorage__blobServiceUri: 'data.blob.core.windows.net' is not an absolute URL/,
    ],
    [
      'an invalid storage account name',
      { DataStorage__accountName: 'Has-Caps' },
      /^DataStorage__accountName: 'Has-Caps' is not a storage account name/,
    ],
    [
      'a storage connection string without credentials',
      { DataStorage: 'AccountName=only;' },
      /^DataStorage: malformed connection string: needs UseDevelopmentStorage=true, AccountName\+AccountKey/,
    ],
    [
      'an unsupported credential kind',
      { CosmosDb__accountEndpoint: 'https://x.documents.azure.com/', CosmosDb__credential: 'clientsecret' },
      /^CosmosDb__credential: only 'managedidentity' is supported/,
    ],
    [
      'a Service Bus connection string without Endpoint',
      { ServiceBus: 'SharedAccessKeyName=n;SharedAccessKey=k;' },
      /^ServiceBus: malformed connection string: needs Endpoint=sb:\/\//,
    ],
    [
      'a non-numeric timeout',
      { HEALTH_TIMEOUT_MS: '2s' },
      /^HEALTH_TIMEOUT_MS: must be a positive integer, got '2s'/,
    ],
  ])('names %s', (_label, env, pattern) => {
    const problems = problemsOf({ HS_ENV: 'local', ...env });
    expect(problems).toContainEqual(expect.stringMatching(pattern));
  });
});

describe('getConfig', () => {
  const saved = process.env.COSMOS_DATABASE;
  afterEach(() => {
    if (saved === undefined) delete process.env.COSMOS_DATABASE;
    else process.env.COSMOS_DATABASE = saved;
    resetConfigForTests();
  });

  test('reads process.env once and returns the same object afterwards', () => {
    resetConfigForTests();
    process.env.COSMOS_DATABASE = 'first';
    const first = getConfig();
    process.env.COSMOS_DATABASE = 'second';
    expect(getConfig()).toBe(first);
    expect(first.cosmosDatabase).toBe('first');
  });
});
