/**
 * `npm run package`: builds the app, plans the deployment package and writes it as a deterministic zip, then
 * prints its size, file count, biggest contributors and sha256.
 *
 *   node -r ./bench/swc-register.js infra/packaging/cli.ts [--out dist-package/hs-mlops.zip] [--no-build]
 *
 * `--no-build` packages the existing dist/ (a test, or a build just made); the default builds first.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { defaultPackagePath } from './defaults';
import { planPackage } from './plan';
import { formatSummary } from './report';
import { writeDeterministicZip } from './zip';
import { readZipDirectory } from './zipDirectory';

export interface CliOptions {
  readonly out: string;
  readonly build: boolean;
}

export function parseCliArguments(args: readonly string[]): CliOptions {
  let out = defaultPackagePath;
  let build = true;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    if (arg === '--no-build') build = false;
    else if (arg === '--out') {
      const value = args[index + 1];
      if (value === undefined || value.startsWith('--')) throw new Error('--out needs a path');
      out = value;
      index += 1;
    } else throw new Error(`unknown argument '${String(arg)}' (expected --out PATH or --no-build)`);
  }
  return { out, build };
}

function build(projectRoot: string): void {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`build failed (tsc exited with ${String(result.status)})`);
}

async function main(): Promise<void> {
  const options = parseCliArguments(process.argv.slice(2));
  const projectRoot = resolve(__dirname, '..', '..');
  const started = Date.now();
  if (options.build) build(projectRoot);
  const plan = planPackage({ projectRoot });
  const outputPath = resolve(projectRoot, options.out);
  mkdirSync(dirname(outputPath), { recursive: true });
  const written = await writeDeterministicZip(plan.files, outputPath);
  const summary = formatSummary({
    path: relative(process.cwd(), written.path) || written.path,
    bytes: written.bytes,
    sha256: written.sha256,
    entries: readZipDirectory(readFileSync(written.path)),
    pruned: plan.pruned,
    top: 12,
  });
  console.log([...summary, `  written in ${((Date.now() - started) / 1000).toFixed(1)} s`].join('\n'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
