import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  flexPackageBlobName,
  hostWarmUpType,
  packageBlobUrl,
  packageUploadType,
  resolvePackagePath,
  type PackageUploadInputs,
} from '../../../infra/components/deploymentPackage';
import { deterministicGuid } from '../../../infra/naming';
import { builtInRoleIds } from '../../../infra/roles';
import { appSettingNames, deploymentBlobContainer } from '../../../infra/settings';
import {
  dynamicOfType,
  named,
  ofType,
  runStack,
  testDeployerPrincipalId,
  testPrincipalId,
  testSubscriptionId,
  type RecordedResource,
  type StackRun,
} from './harness';

describe('deployment package in the stack', () => {
  const folder = mkdtempSync(join(tmpdir(), 'packaging-stack-'));
  const packagePath = join(folder, 'hs-mlops.zip');
  const contents = Buffer.from('PK\u0005\u0006 stand-in for the deployment zip');
  const sha256 = createHash('sha256').update(contents).digest('hex');
  let run: StackRun;

  beforeAll(async () => {
    writeFileSync(packagePath, contents);
    run = await runStack({ deploymentPackagePath: packagePath });
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  function upload(): RecordedResource {
    const uploads = dynamicOfType(run, packageUploadType);
    expect(uploads).toHaveLength(1);
    return uploads[0]!;
  }

  it('uploads with a dynamic resource, not the key-authenticated azure-native Blob', () => {
    expect(run.resources.filter((resource) => resource.type === 'azure-native:storage:Blob')).toEqual([]);
    expect(upload().type).toBe('pulumi-nodejs:dynamic:FlexPackageUpload');
    expect(typeof upload().inputs.__provider).toBe('string');
  });

  it('uploads the zip into the deployment container of the host account under the name Flex loads', () => {
    const host = named(run, 'storage:StorageAccount', run.outputs.hostStorageAccountName);
    expect(flexPackageBlobName).toBe('released-package.zip');
    expect(upload().inputs).toMatchObject({
      accountName: run.outputs.hostStorageAccountName,
      blobEndpoint: `https://${host.physicalName}.blob.core.windows.net/`,
      containerName: deploymentBlobContainer,
      blobName: 'released-package.zip',
      packagePath,
      roleWaitSeconds: 300,
    });
    expect(packageBlobUrl(upload().inputs as PackageUploadInputs)).toBe(
      `https://${host.physicalName}.blob.core.windows.net/deployment-package/released-package.zip`,
    );
  });

  it('identifies the upload by the zip sha256', () => {
    expect(upload().inputs.sha256).toBe(sha256);
  });

  it('grants the deployer Storage Blob Data Contributor on the deployment container only, before uploading', () => {
    const host = named(run, 'storage:StorageAccount', run.outputs.hostStorageAccountName);
    const grants = ofType(run, 'authorization:RoleAssignment').filter(
      (assignment) => assignment.inputs.principalId === testDeployerPrincipalId,
    );
    expect(grants).toHaveLength(1);
    const grant = grants[0]!;
    const scope = `${host.id}/blobServices/default/containers/${deploymentBlobContainer}`;
    expect(grant.inputs).toMatchObject({
      scope,
      roleDefinitionId: `/subscriptions/${testSubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${builtInRoleIds.storageBlobDataContributor}`,
      roleAssignmentName: deterministicGuid(
        scope,
        testDeployerPrincipalId,
        builtInRoleIds.storageBlobDataContributor,
      ),
    });
    // An `az login` person by default; CI sets deployerPrincipalType (see below).
    expect(grant.inputs.principalType).toBe('User');
    const order = run.resources.map((resource) => resource.name);
    expect(order.indexOf(grant.name)).toBeLessThan(order.indexOf(upload().name));
  });

  it('restarts the app on a new package through the DEPLOYMENT_PACKAGE_SHA256 setting, set once uploaded', () => {
    const [app] = ofType(run, 'web:WebApp');
    const settings = new Map(
      (app!.inputs.siteConfig.appSettings as { name: string; value: string }[]).map((s) => [s.name, s.value]),
    );
    expect(appSettingNames.deploymentPackageSha256).toBe('DEPLOYMENT_PACKAGE_SHA256');
    expect(settings.get('DEPLOYMENT_PACKAGE_SHA256')).toBe(sha256);
    const order = run.resources.map((resource) => resource.name);
    expect(order.indexOf(app!.name)).toBeGreaterThan(order.indexOf(upload().name));
  });

  it('warms the app on its health route for this package, after the app and its roles exist', () => {
    const warmUps = dynamicOfType(run, hostWarmUpType);
    expect(warmUps).toHaveLength(1);
    const warmUp = warmUps[0]!;
    expect(warmUp.inputs).toMatchObject({
      healthUrl: `${run.outputs.apiBaseUrl}/health`,
      functionAppId: ofType(run, 'web:WebApp')[0]!.id,
      packageSha256: sha256,
      timeoutSeconds: 600,
      intervalSeconds: 10,
    });
    expect(run.outputs.apiBaseUrl).toMatch(/^https:\/\/[a-z0-9-]+\.azurewebsites\.net\/api$/);
    const order = run.resources.map((resource) => resource.name);
    const appRoles = ofType(run, 'authorization:RoleAssignment').filter(
      (assignment) => assignment.inputs.principalId === testPrincipalId,
    );
    expect(appRoles.length).toBeGreaterThan(0);
    for (const before of [...ofType(run, 'web:WebApp'), ...appRoles, upload()]) {
      expect(order.indexOf(before.name)).toBeLessThan(order.indexOf(warmUp.name));
    }
  });

  it('is a component of the platform', () => {
    expect(upload().urn).toContain(
      '::hsmlops:infra:DeploymentPackage$pulumi-nodejs:dynamic:FlexPackageUpload::',
    );
    const component = run.resources.find((resource) => resource.type === 'hsmlops:infra:DeploymentPackage');
    expect(component?.urn).toContain('::hsmlops:infra:Platform$hsmlops:infra:DeploymentPackage::');
  });
});

describe('a deployer that is a service principal', () => {
  it('names that principal type in the upload grant', async () => {
    const run = await runStack({ deployerPrincipalType: 'ServicePrincipal' });
    const grants = ofType(run, 'authorization:RoleAssignment').filter(
      (assignment) => assignment.inputs.principalId === testDeployerPrincipalId,
    );
    expect(grants.map((grant): unknown => grant.inputs.principalType)).toEqual(['ServicePrincipal']);
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
