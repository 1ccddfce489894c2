import { parseBlobPath } from '../../../../local/host/triggers/blob-path';
import { parseSchedule } from '../../../../local/host/triggers/timer';

describe('blob trigger paths', () => {
  it('splits container, listing prefix and binding data', () => {
    const p = parseBlobPath('incoming/{name}');
    expect(p.container).toBe('incoming');
    expect(p.prefix).toBe('');
    expect(p.match('a.csv')).toEqual({ name: 'a.csv' });
    expect(p.match('sub/a.csv')).toEqual({ name: 'sub/a.csv' });
  });

  it('matches literal parts and several parameters', () => {
    const p = parseBlobPath('data/labelled-{batch}/{name}.csv');
    expect(p.prefix).toBe('labelled-');
    expect(p.match('labelled-7/rows.csv')).toEqual({ batch: '7', name: 'rows' });
    expect(p.match('labelled-7/rows.json')).toBeUndefined();
    expect(p.match('other-7/rows.csv')).toBeUndefined();
    expect(parseBlobPath('c/{{literal}}-{name}').match('{literal}-x')).toEqual({ name: 'x' });
    expect(() => parseBlobPath('{c}/x')).toThrow(/container must be a literal/);
  });
});

describe('timer schedules', () => {
  it('reads six-field NCRONTAB and TimeSpan schedules', () => {
    const from = new Date('2026-01-05T10:00:00.500Z');
    expect(parseSchedule('*/15 * * * * *', 'UTC').next(from).toISOString()).toBe('2026-01-05T10:00:15.000Z');
    expect(parseSchedule('0 30 2 * * 1-5', 'UTC').next(from).toISOString()).toBe('2026-01-06T02:30:00.000Z');
    expect(parseSchedule('00:05:00', 'UTC').next(from).toISOString()).toBe('2026-01-05T10:05:00.500Z');
    expect(parseSchedule('1.00:00:00', 'UTC').next(from).toISOString()).toBe('2026-01-06T10:00:00.500Z');
    expect(() => parseSchedule('*/5 * * * *', 'UTC')).toThrow(/6 fields/);
  });
});
