import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flexPackageBlobName, resolvePackagePath } from '../../../infra/components/deploymentPackage';
import { deploymentBlobContainer } from '../../../infra/settings';
import { ofType, runStack, type StackRun } from './harness';

describe('deployment package in the stack', () => {
  const folder = mkdtempSync(join(tmpdir(), 'packaging-stack-'));
  const packagePath = join(folder, 'hs-mlops.zip');
  const contents = Buffer.from('PK\u0005\u0006 stand-in for the deployment zip');
  let run: StackRun;

  beforeAll(async () => {
    writeFileSync(packagePath, contents);
    run = await runStack({ deploymentPackagePath: packagePath });
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('uploads the zip into the deployment container of the host account under the name Flex loads', async () => {
    const blobs = ofType(run, 'storage:Blob');
    expect(blobs).toHaveLength(1);
    const blob = blobs[0]!;
    expect(blob.inputs.blobName).toBe(flexPackageBlobName);
    expect(flexPackageBlobName).toBe('released-package.zip');
    expect(blob.inputs.containerName).toBe(deploymentBlobContainer);
    expect(blob.inputs.accountName).toBe(run.outputs.hostStorageAccountName);
    expect(blob.inputs.type).toBe('Block');
    expect(blob.inputs.contentType).toBe('application/zip');
    expect(await blob.inputs.source.path).toBe(packagePath);
  });

  it('records the zip sha256 on the blob', () => {
    const [blob] = ofType(run, 'storage:Blob');
    expect(blob!.inputs.metadata).toEqual({ sha256: createHash('sha256').update(contents).digest('hex') });
  });

  it('is a component of the platform, in the resource group of the container it writes to', () => {
    const [blob] = ofType(run, 'storage:Blob');
    expect(blob!.urn).toContain('::hsmlops:infra:DeploymentPackage$azure-native:storage:Blob::');
    const component = run.resources.find((resource) => resource.type === 'hsmlops:infra:DeploymentPackage');
    expect(component?.urn).toContain('::hsmlops:infra:Platform$hsmlops:infra:DeploymentPackage::');
    const container = ofType(run, 'storage:BlobContainer').find(
      (candidate) => candidate.physicalName === deploymentBlobContainer,
    );
    expect(container?.inputs.accountName).toBe(blob!.inputs.accountName);
    expect(blob!.inputs.resourceGroupName).toBe(container?.inputs.resourceGroupName);
  });
});

describe('a missing deployment package', () => {
  it('stops the program with what to run', async () => {
    const missing = join(tmpdir(), 'no-such-folder', 'hs-mlops.zip');
    await expect(runStack({ deploymentPackagePath: missing })).rejects.toThrow(
      `deployment package ${missing} does not exist: run npm run package first`,
    );
  });

  it('rejects a configured path that is not a zip', async () => {
    await expect(runStack({ deploymentPackagePath: 'dist-package/' })).rejects.toThrow(
      /deploymentPackagePath/,
    );
  });

  it('reads relative paths from the project root', () => {
    expect(resolvePackagePath('dist-package/hs-mlops.zip')).toBe(
      join(__dirname, '..', '..', '..', 'dist-package', 'hs-mlops.zip'),
    );
    expect(resolvePackagePath('/abs/p.zip')).toBe('/abs/p.zip');
  });
});
