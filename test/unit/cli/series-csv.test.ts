import { describe, expect, it } from 'vitest';
import { checkSeriesHeader, parseSeriesLine, parseTimestamp } from '../../../cli/series-csv.js';

describe('the series CSV', () => {
  it('reads the three timestamp forms, a time without an offset as UTC', () => {
    const t = Date.UTC(2026, 0, 5, 10, 30);
    expect(parseTimestamp('2026-01-05T10:30:00Z')).toBe(t);
    expect(parseTimestamp('2026-01-05T10:30:00')).toBe(t);
    expect(parseTimestamp('2026-01-05T11:30:00+01:00')).toBe(t);
    expect(parseTimestamp('2026-01-05T10:30:00.000Z')).toBe(t);
    expect(parseTimestamp('2026-01-05 10:30:00')).toBe(t);
    expect(parseTimestamp(String(t))).toBe(t);
    expect(parseTimestamp('2026-01-05')).toBe(Date.UTC(2026, 0, 5));
    for (const bad of ['2026-02-30', '2026-01-05T25:00:00Z', '05/01/2026', '', '1.5e12', 'now'])
      expect(parseTimestamp(bad), bad).toBeUndefined();
  });

  it('keeps the fields as given, without surrounding quotes, and names the line of an error', () => {
    expect(parseSeriesLine('"2026-01-05 10:30:00", 1.50 ', 4)).toEqual({
      timestamp: '2026-01-05 10:30:00',
      time: Date.UTC(2026, 0, 5, 10, 30),
      valueText: '1.50',
      value: 1.5,
    });
    expect(() => parseSeriesLine('1,abc', 17)).toThrow("line 17: value 'abc' is not a number");
    expect(() => parseSeriesLine('1,', 5)).toThrow("line 5: value '' is not a number");
    expect(() => parseSeriesLine('1,2,3', 6)).toThrow('line 6: expected 2 fields (timestamp,value), got 3');
    expect(() => checkSeriesHeader('\uFEFFTimestamp, Value')).not.toThrow();
    expect(() => checkSeriesHeader('time,value')).toThrow(/line 1: expected the header/);
  });
});
