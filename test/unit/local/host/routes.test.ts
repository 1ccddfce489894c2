import { compareRoutes, matchRoute, parseRoute } from '../../../../local/host/routes';

describe('route templates', () => {
  it('captures parameters and matches literals case-insensitively', () => {
    const route = parseRoute('models/{version}');
    expect(matchRoute(route, 'Models/v3')).toEqual({ version: 'v3' });
    expect(matchRoute(route, 'models')).toBeUndefined();
    expect(matchRoute(route, 'models/v3/extra')).toBeUndefined();
    expect(matchRoute(route, 'models/a%20b')).toEqual({ version: 'a b' });
  });

  it('checks constraints and optional and catch-all parameters', () => {
    const route = parseRoute('items/{id:int}/{tag?}');
    expect(matchRoute(route, 'items/12')).toEqual({ id: '12' });
    expect(matchRoute(route, 'items/12/red')).toEqual({ id: '12', tag: 'red' });
    expect(matchRoute(route, 'items/x')).toBeUndefined();
    expect(matchRoute(parseRoute('r/{n:range(1,5)}'), 'r/6')).toBeUndefined();
    expect(matchRoute(parseRoute('r/{n:range(1,5)}'), 'r/5')).toEqual({ n: '5' });
    expect(matchRoute(parseRoute('r/{g:guid}'), 'r/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBeDefined();
    expect(matchRoute(parseRoute('files/{*path}'), 'files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(() => parseRoute('x/{id:nonsense}')).toThrow(/unsupported constraint "nonsense"/);
  });

  it('orders literal routes before parameter routes', () => {
    const routes = ['models/{version}', 'models/latest', 'models/{version:int}'].map(parseRoute);
    expect(routes.sort(compareRoutes).map((r) => r.template)).toEqual([
      'models/latest',
      'models/{version:int}',
      'models/{version}',
    ]);
  });
});
