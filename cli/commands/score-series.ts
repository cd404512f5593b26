import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import { SEASONALITIES, type Seasonality, SeasonalScorer } from '../../processors/anomaly/index.js';
import { ConfigError } from '../../topology/errors.js';
import { checkSeriesHeader, parseSeriesLine, SERIES_HEADER } from '../series-csv.js';

interface ScoreSeriesOptions {
  alpha: number;
  seasonality: Seasonality;
  warmup: number;
  seed: number;
}

const alphaOf = (value: string): number => {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('expected a number in (0, 1]');
  return n;
};

const wholeOf =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return n;
  };

const seasonalityOf = (value: string): Seasonality => {
  if (!(SEASONALITIES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of: ${SEASONALITIES.join(', ')}`);
  return value as Seasonality;
};

export function registerScoreSeries(program: Command): void {
  program
    .command('score-series')
    .description(
      `score a time series for anomalies: reads CSV '${SERIES_HEADER}' on stdin (timestamps ISO 8601, 'YYYY-MM-DD HH:MM:SS' UTC or epoch ms), writes '${SERIES_HEADER},anomaly_score' (0 to 1) on stdout, one row per input row, in order, as it reads (online, no look-ahead)`,
    )
    .option('--alpha <a>', "EWMA weight of a new point in its slot's baseline, in (0, 1]", alphaOf, 0.1)
    .option(
      '--seasonality <s>',
      'baseline slots: daily (hour of day, UTC), weekly (hour of week) or none',
      seasonalityOf,
      'daily' as Seasonality,
    )
    .option(
      '--warmup <n>',
      'points a slot must have seen before it scores (the global baseline scores until then)',
      wholeOf(1),
      5,
    )
    .option(
      '--seed <n>',
      'accepted for the detectors to come; the univariate method uses no randomness',
      wholeOf(0),
      1,
    )
    .action(async (options: ScoreSeriesOptions) => {
      const scorer = new SeasonalScorer({
        alpha: options.alpha,
        seasonality: options.seasonality,
        warmup: options.warmup,
      });
      await scoreSeries(scorer, process.stdin, process.stdout);
    });
}

/** Streams `input` to `output`, a line at a time (memory does not grow with the input). */
async function scoreSeries(
  scorer: SeasonalScorer,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
) {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  let headerSeen = false;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    if (!headerSeen) {
      if (line !== 1) throw new ConfigError(`line ${line}: expected the header '${SERIES_HEADER}' on line 1`);
      checkSeriesHeader(text);
      headerSeen = true;
      if (!output.write(`${SERIES_HEADER},anomaly_score\n`)) await drained(output);
      continue;
    }
    const point = parseSeriesLine(text, line);
    const score = scorer.score(point.time, point.value);
    if (!output.write(`${point.timestamp},${point.valueText},${score.toFixed(6)}\n`)) await drained(output);
  }
  if (!headerSeen)
    throw new ConfigError(`no input: expected CSV with the header '${SERIES_HEADER}' on stdin`);
  // the process exits right after the command: let a piped stdout take everything first
  await new Promise<void>((resolve) => output.write('', () => resolve()));
}

const drained = (output: NodeJS.WritableStream) =>
  new Promise<void>((resolve) => output.once('drain', () => resolve()));
