import { measureColumns, requestAlertQueries, windowDuration } from '../../../infra/components/alerts';

describe('requestAlertQueries', () => {
  const queries = requestAlertQueries('api', 25);

  it('measures only API requests, and only windows with enough of them', () => {
    for (const query of Object.values(queries)) {
      expect(query.startsWith('requests\n')).toBe(true);
      expect(query).toContain('| where tostring(parse_url(url).Path) startswith "/api/"');
      expect(query).toContain('| where total >= 25');
    }
  });

  it('returns the 5xx share in percent and the p95 duration, in the columns the rules read', () => {
    expect(queries.serverErrorPercent).toContain('serverErrors = countif(toint(resultCode) >= 500)');
    expect(queries.serverErrorPercent).toMatch(
      new RegExp(`project ${measureColumns.serverErrorPercent} = 100\\.0 \\* serverErrors / total$`),
    );
    expect(queries.p95LatencyMs).toContain('p95 = percentile(duration, 95)');
    expect(queries.p95LatencyMs).toMatch(new RegExp(`project ${measureColumns.p95LatencyMs} = p95$`));
  });

  it('refuses a route prefix that would change the query and a minimum that is not a positive integer', () => {
    expect(() => requestAlertQueries('api" or true', 10)).toThrow(/route prefix/);
    expect(() => requestAlertQueries('api/v2', 10)).toThrow(/route prefix/);
    expect(() => requestAlertQueries('api', 0)).toThrow(/minimum requests/);
    expect(() => requestAlertQueries('api', 2.5)).toThrow(/minimum requests/);
  });
});

describe('windowDuration', () => {
  it('writes the windows as ISO 8601 durations the log alert API accepts', () => {
    const windows = [5, 10, 15, 30, 45, 60] as const;
    expect(windows.map((minutes) => windowDuration(minutes))).toEqual([
      'PT5M',
      'PT10M',
      'PT15M',
      'PT30M',
      'PT45M',
      'PT1H',
    ]);
  });
});
