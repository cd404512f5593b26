/**
 * The CSV of `veroai score-series`: a `timestamp,value` header, then one
 * point a line. Timestamps are ISO 8601 (a time without an offset is UTC),
 * `YYYY-MM-DD HH:MM:SS` (UTC) or epoch milliseconds; values are finite
 * numbers. A field may be wrapped in double quotes.
 *
 * Lines are split by hand rather than with a CSV library: the two fields are
 * a timestamp and a number, which never hold a comma, a quote or a line break,
 * and splitting keeps each field's text exactly as given (it is written back
 * unchanged) and each error's line number exact.
 */
import { ConfigError } from '../topology/errors.js';

export const SERIES_HEADER = 'timestamp,value';

export interface SeriesPoint {
  /** The timestamp's text as given (without surrounding quotes). */
  readonly timestamp: string;
  /** Epoch milliseconds. */
  readonly time: number;
  /** The value's text as given (without surrounding quotes). */
  readonly valueText: string;
  readonly value: number;
}

const fail = (line: number, what: string) => new ConfigError(`line ${line}: ${what}`);

const fieldsOf = (text: string): string[] => text.split(',').map((f) => unquote(f.trim()));

const unquote = (field: string): string =>
  field.length >= 2 && field.startsWith('"') && field.endsWith('"') ? field.slice(1, -1).trim() : field;

/** Checks the header line (line 1); a byte order mark is ignored. */
export function checkSeriesHeader(text: string): void {
  const header = fieldsOf(text.replace(/^\uFEFF/, '')).map((f) => f.toLowerCase());
  if (header.join(',') !== SERIES_HEADER)
    throw fail(1, `expected the header '${SERIES_HEADER}', got '${text.trim()}'`);
}

/** The point on data line `line` (1-based, counting the header). Throws a ConfigError naming the line. */
export function parseSeriesLine(text: string, line: number): SeriesPoint {
  const fields = fieldsOf(text);
  if (fields.length !== 2) throw fail(line, `expected 2 fields (timestamp,value), got ${fields.length}`);
  const [timestamp, valueText] = fields as [string, string];
  const time = parseTimestamp(timestamp);
  if (time === undefined)
    throw fail(line, `timestamp '${timestamp}' is not ISO 8601, 'YYYY-MM-DD HH:MM:SS' or epoch milliseconds`);
  const value = valueText === '' ? Number.NaN : Number(valueText);
  if (!Number.isFinite(value)) throw fail(line, `value '${valueText}' is not a number`);
  return { timestamp, time, valueText, value };
}

const EPOCH_MS = /^-?\d+$/;
const SPACED = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch milliseconds of a timestamp in one of the three forms, or undefined. */
export function parseTimestamp(text: string): number | undefined {
  if (EPOCH_MS.test(text)) {
    const ms = Number(text);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  const spaced = SPACED.exec(text);
  const iso = ISO.exec(spaced === null ? text : `${spaced[1]}T${spaced[2]}Z`);
  if (iso === null) return undefined;
  const [, year, month, day, zone] = iso;
  if (!isCalendarDate(Number(year), Number(month), Number(day))) return undefined;
  // a date-time without an offset is UTC (Date.parse would read it as local time)
  const hasTime = iso[0].length > 10;
  const ms = Date.parse(hasTime && zone === undefined ? `${iso[0]}Z` : iso[0]);
  return Number.isFinite(ms) ? ms : undefined;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
