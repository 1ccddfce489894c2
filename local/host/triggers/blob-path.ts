/**
 * Blob trigger paths (`container/prefix-{name}.csv`): the container is literal, `{param}` parts of the blob name
 * become binding data (the host passes them in trigger metadata), and `{{`/`}}` escape braces.
 */
export interface BlobPathPattern {
  container: string;
  /** Literal start of blob names, used as the listing prefix. */
  prefix: string;
  match(blobName: string): Record<string, string> | undefined;
}

export function parseBlobPath(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const blobPattern = slash < 0 ? '' : path.slice(slash + 1);
  if (container === '' || /[{}]/.test(container)) {
    throw new Error(`Blob trigger path "${path}": the container must be a literal name`);
  }
  const names: string[] = [];
  let regex = '';
  let prefix: string | undefined;
  for (const token of blobPattern.match(/\{\{|\}\}|\{[^{}]+\}|[^{}]+/g) ?? []) {
    if (token === '{{' || token === '}}') {
      regex += escapeRegExp(token[0]!);
    } else if (token.startsWith('{')) {
      prefix ??= literal(regex);
      names.push(token.slice(1, -1));
      regex += '(.+?)';
    } else {
      regex += escapeRegExp(token);
    }
  }
  const compiled = new RegExp(`^${regex}${names.length === 0 && blobPattern === '' ? '.*' : ''}$`);
  return {
    container,
    prefix: prefix ?? literal(regex),
    match: (blobName) => {
      const m = compiled.exec(blobName);
      if (!m) return undefined;
      return Object.fromEntries(names.map((n, i) => [n, m[i + 1] ?? '']));
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function literal(escapedRegex: string): string {
  return escapedRegex.replace(/\\(.)/g, '$1');
}
