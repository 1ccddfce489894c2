/**
 * What the deployment package leaves out of the production dependencies. Every rule is about a file Node never
 * loads on the Function App's Linux x64 workers, so pruning changes the zip's size, never the app's behaviour.
 */

/** Operating system and CPU the package runs on, as Node names them (`process.platform`, `process.arch`). */
export interface TargetPlatform {
  readonly platform: string;
  readonly arch: string;
}

/** Flex Consumption runs Linux on x64. */
export const functionAppPlatform: TargetPlatform = { platform: 'linux', arch: 'x64' };

export type PruneRule =
  'other-platform-binaries' | 'type-declarations' | 'source-maps' | 'typescript-sources' | 'markdown-docs';

/**
 * onnxruntime-node's loader (`dist/binding.js`) requires
 * `bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`, which links libonnxruntime.so.1 from
 * the same folder; every other platform's folder is dead weight (about 250 MB of the package's 294 MB).
 */
const onnxBinaryFolder = /(?:^|\/)node_modules\/onnxruntime-node\/bin\/napi-v\d+\/([^/]+)\/([^/]+)\//;
const typeDeclaration = /\.d\.[cm]?ts$/;
const sourceMap = /\.map$/;
const typescriptSource = /\.(?:[cm]?ts|tsx)$/;
const markdown = /\.(?:md|markdown)$/i;
/** Licence texts stay even when they are markdown: redistributing a package means shipping its licence. */
const legalNotice = /^(?:licen[cs]e|notice|copying|authors)(?:[.-]|$)/i;

/**
 * The rule that drops a file of a production dependency, or undefined when it is shipped. `path` is the file's
 * path inside the project (`node_modules/<package>/...`), with forward slashes.
 */
export function pruneRuleFor(
  path: string,
  target: TargetPlatform = functionAppPlatform,
): PruneRule | undefined {
  const binary = onnxBinaryFolder.exec(path);
  if (binary !== null && (binary[1] !== target.platform || binary[2] !== target.arch)) {
    return 'other-platform-binaries';
  }
  if (typeDeclaration.test(path)) return 'type-declarations';
  if (sourceMap.test(path)) return 'source-maps';
  // Why: Node 20 cannot load .ts files, so TypeScript sources a package ships next to its JavaScript are unused.
  if (typescriptSource.test(path)) return 'typescript-sources';
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  if (markdown.test(fileName) && !legalNotice.test(fileName)) return 'markdown-docs';
  return undefined;
}
