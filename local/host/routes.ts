/**
 * Route templates as the Functions host reads them (ASP.NET routing): literal segments match case-insensitively,
 * `{name}` captures one segment, `{name:constraint}` checks it, `{name?}` may be absent at the end, `{*rest}`
 * captures the remainder. Templates sort so literals win over parameters, like ASP.NET's route precedence.
 */

type Segment =
  | { kind: 'literal'; text: string }
  | {
      kind: 'param';
      name: string;
      optional: boolean;
      catchAll: boolean;
      constraints: ((v: string) => boolean)[];
    };

export interface RouteTemplate {
  template: string;
  segments: Segment[];
}

export function parseRoute(template: string): RouteTemplate {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((p) => p !== '');
  const segments = parts.map((part): Segment => {
    const m = /^\{(\*?)([A-Za-z_][\w]*)((?::[^:?}]+(?:\([^)]*\))?)*)(\?)?\}$/.exec(part);
    if (!m) {
      if (/[{}]/.test(part)) throw new Error(`Route "${template}": unsupported segment "${part}"`);
      return { kind: 'literal', text: part.toLowerCase() };
    }
    const constraintText = m[3] ?? '';
    const constraints = [...constraintText.matchAll(/:([a-z]+)(?:\(([^)]*)\))?/gi)].map((c) =>
      constraintCheck(template, c[1] ?? '', c[2]),
    );
    return { kind: 'param', name: m[2] ?? '', optional: m[4] === '?', catchAll: m[1] === '*', constraints };
  });
  return { template, segments };
}

/** Returns the route values when `path` (already without the route prefix) matches, else undefined. */
export function matchRoute(route: RouteTemplate, path: string): Record<string, string> | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    const part = parts[i];
    if (segment.kind === 'literal') {
      if (part === undefined || decodeURIComponent(part).toLowerCase() !== segment.text) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = parts.slice(i).map(decodeURIComponent).join('/');
      if (rest !== '') params[segment.name] = rest;
      return params;
    }
    if (part === undefined) {
      if (!segment.optional) return undefined;
      continue;
    }
    const value = decodeURIComponent(part);
    if (!segment.constraints.every((check) => check(value))) return undefined;
    params[segment.name] = value;
  }
  return parts.length <= route.segments.length ? params : undefined;
}

/** Sort key: lower sorts first (more specific). */
export function routePrecedence(route: RouteTemplate): number[] {
  return route.segments.map((s) =>
    s.kind === 'literal' ? 1 : s.catchAll ? 5 : s.optional ? 4 : s.constraints.length > 0 ? 2 : 3,
  );
}

export function compareRoutes(a: RouteTemplate, b: RouteTemplate): number {
  const pa = routePrecedence(a);
  const pb = routePrecedence(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function constraintCheck(template: string, name: string, arg: string | undefined): (v: string) => boolean {
  const num = (i: number): number => Number((arg ?? '').split(',')[i]);
  switch (name.toLowerCase()) {
    case 'int':
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'double':
    case 'float':
    case 'decimal':
      return (v) => /^-?\d+(\.\d+)?$/.test(v);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'guid':
      return (v) => /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'minlength':
      return (v) => v.length >= num(0);
    case 'maxlength':
      return (v) => v.length <= num(0);
    case 'length':
      return (arg ?? '').includes(',')
        ? (v) => v.length >= num(0) && v.length <= num(1)
        : (v) => v.length === num(0);
    case 'min':
      return (v) => /^-?\d+$/.test(v) && Number(v) >= num(0);
    case 'max':
      return (v) => /^-?\d+$/.test(v) && Number(v) <= num(0);
    case 'range':
      return (v) => /^-?\d+$/.test(v) && Number(v) >= num(0) && Number(v) <= num(1);
    case 'regex': {
      const re = new RegExp(arg ?? '', 'i');
      return (v) => re.test(v);
    }
    default:
      throw new Error(`Route "${template}": unsupported constraint "${name}"`);
  }
}
