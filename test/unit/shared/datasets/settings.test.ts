import { ConfigError, loadConfig } from '../../../../shared/config';
import { ingestionIdFor } from '../../../../shared/datasets/service';

describe('ingestion settings', () => {
  it('default to 512 characters and the keep policy, and take valid overrides', () => {
    expect(loadConfig({})).toMatchObject({
      ingestMaxDescriptionLength: 512,
      ingestUnlistedCodePolicy: 'keep',
    });
    expect(
      loadConfig({ INGEST_MAX_DESCRIPTION_LENGTH: '200', INGEST_UNLISTED_CODE_POLICY: 'reject' }),
    ).toMatchObject({ ingestMaxDescriptionLength: 200, ingestUnlistedCodePolicy: 'reject' });
  });

  it('names both bad settings in one error', () => {
    expect(() =>
      loadConfig({ INGEST_MAX_DESCRIPTION_LENGTH: '0', INGEST_UNLISTED_CODE_POLICY: 'drop' }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ INGEST_MAX_DESCRIPTION_LENGTH: '0', INGEST_UNLISTED_CODE_POLICY: 'drop' });
    } catch (error: unknown) {
      expect((error as ConfigError).problems.join('\n')).toMatch(
        /INGEST_MAX_DESCRIPTION_LENGTH[\s\S]*INGEST_UNLISTED_CODE_POLICY/,
      );
    }
  });
});

describe('ingestionIdFor', () => {
  const hash = 'a'.repeat(64);
  it('is the same for the same name and content, and differs when either changes', () => {
    expect(ingestionIdFor('in/file.csv', hash)).toBe(ingestionIdFor('in/file.csv', hash));
    expect(ingestionIdFor('in/file.csv', 'b'.repeat(64))).not.toBe(ingestionIdFor('in/file.csv', hash));
    // Names that sanitise alike still differ through the name hash.
    expect(ingestionIdFor('in/file.csv', hash)).not.toBe(ingestionIdFor('in#file.csv', hash));
  });

  it('is a valid durable instance id however long or odd the name', () => {
    const id = ingestionIdFor(`${'dir/'.repeat(40)}weird name?#\\.csv`, hash);
    expect(id.length).toBeLessThanOrEqual(100);
    expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
