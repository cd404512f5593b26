import type {
  CanaryCommand,
  CanaryDecision,
  CanaryVerdict,
  KpiWindow,
  RolloutStatus,
} from '../../schemas/index.js';
import type {
  KeyValueStore,
  ProcessorSupplier,
  RecordProcessor,
  StreamRecord,
} from '../../topology/index.js';
import { type JudgeConfigOverrides, type Judgement, judgeRollout, LatencySketch } from './judge/index.js';
import type { KpiWindowSummary } from './judge/kpi-window.js';

/** The changelogged store of rollouts, keyed `tenantId/service`: one rollout at a time per service. */
export const CANARY_ROLLOUTS_STORE = 'canary-rollouts';

/** Windows a rollout keeps per track: the judge looks at no more than the last this many. */
export const MAX_ROLLOUT_WINDOWS = 60;

/** A closed KPI window as a rollout keeps it (JSON: the sketch as base64). */
export interface RolloutWindow {
  readonly version: string;
  readonly track: KpiWindow['track'];
  readonly start: number;
  readonly end: number;
  readonly requests: number;
  readonly errors: number;
  readonly sketch: string;
  readonly samples: number[];
}

/** What the judge processor reads: a closed KPI window of a service, or a command on its rollout. */
export type RolloutInput = { readonly window: RolloutWindow } | { readonly command: CanaryCommand };

/** What names a rollout, in its state and in each of its decisions. */
type RolloutIdentity = Pick<
  CanaryDecision,
  'rolloutId' | 'tenantId' | 'service' | 'canaryVersion' | 'baselineVersion' | 'stableVersion'
>;

export interface RolloutState extends RolloutIdentity {
  status: RolloutStatus;
  /** Event time of the start: windows that ended before it are not the rollout's. */
  readonly startedAt: number;
  canary: RolloutWindow[];
  baseline: RolloutWindow[];
  /** Window pairs (same start on both tracks) judged so far. */
  judgedPairs: number;
}

export const rolloutWindowOf = (w: KpiWindow): RolloutWindow => ({
  version: w.version,
  track: w.track,
  start: w.windowStart,
  end: w.windowEnd,
  requests: w.requests,
  errors: w.errors,
  sketch: w.latencySketch.toString('base64'),
  samples: w.latencySamples,
});

/** A rollout command that cannot be carried out: dead-lettered with this reason. */
export class CanaryCommandError extends Error {
  override readonly name = 'CanaryCommandError';
}

/**
 * The canary gate's judge, keyed `tenantId/service`: keeps each rollout (from
 * `start` commands) with its canary's and baseline's closed KPI windows, and
 * each time a window closes on both tracks for the same period, judges the
 * canary against the baseline over every such pair so far
 * (processors/canary/judge) and emits a CanaryDecision keyed by rollout id.
 * `promote` and `rollback` end the rollout (later windows are ignored);
 * `hold` waits for more windows. `abort` and `promote` commands end it by
 * hand. A command that names no rollout, or a start without versions, is a
 * record error: it goes to the dead-letter topic with the reason.
 */
export function rolloutJudge(
  judge: JudgeConfigOverrides = {},
): ProcessorSupplier<string, RolloutInput, string, CanaryDecision> {
  return (context): RecordProcessor<string, RolloutInput> => {
    const rollouts = context.getStateStore<KeyValueStore<string, RolloutState>>(CANARY_ROLLOUTS_STORE);
    const emit = (record: StreamRecord<string, RolloutInput>, decision: CanaryDecision) =>
      context.forward({ ...record, key: decision.rolloutId, value: decision });
    return {
      async process(record) {
        const input = record.value;
        const current = await rollouts.get(record.key);
        if ('command' in input) {
          const { state, decision } = onCommand(current, input.command);
          rollouts.put(record.key, state);
          emit(record, decision);
          return;
        }
        if (current === undefined || current.status !== 'running') return;
        if (!addWindow(current, input.window)) return;
        const pairs = pairedWindows(current);
        if (pairs.canary.length <= current.judgedPairs) {
          rollouts.put(record.key, current);
          return;
        }
        current.judgedPairs = pairs.canary.length;
        const judgement = judgeRollout(pairs.canary.map(summaryOf), pairs.baseline.map(summaryOf), judge);
        if (judgement.verdict !== 'hold') {
          current.status = judgement.verdict === 'promote' ? 'promoted' : 'rolled_back';
          // an ended rollout keeps its decision (sink, topic), not its windows: bounded state
          current.canary = [];
          current.baseline = [];
        }
        rollouts.put(record.key, current);
        emit(record, decisionOf(current, judgement, input.window.end, pairs.canary));
      },
    };
  };
}

function onCommand(
  current: RolloutState | undefined,
  command: CanaryCommand,
): { state: RolloutState; decision: CanaryDecision } {
  if (command.kind === 'start') {
    if (command.canaryVersion === null || command.baselineVersion === null)
      throw new CanaryCommandError(
        `start of rollout '${command.rolloutId}': canaryVersion and baselineVersion are required`,
      );
    if (command.canaryVersion === command.baselineVersion)
      throw new CanaryCommandError(
        `start of rollout '${command.rolloutId}': canary and baseline are both version '${command.canaryVersion}'`,
      );
    const state: RolloutState = {
      rolloutId: command.rolloutId,
      tenantId: command.tenantId,
      service: command.service,
      canaryVersion: command.canaryVersion,
      baselineVersion: command.baselineVersion,
      stableVersion: command.stableVersion,
      status: 'running',
      startedAt: command.issuedAt,
      canary: [],
      baseline: [],
      judgedPairs: 0,
    };
    return {
      state,
      decision: manualDecision(state, 'hold', 'rollout started: waiting for windows', command),
    };
  }
  if (current === undefined || current.rolloutId !== command.rolloutId)
    throw new CanaryCommandError(
      `${command.kind} of rollout '${command.rolloutId}': ${command.tenantId}/${command.service} has ${current === undefined ? 'no rollout' : `rollout '${current.rolloutId}' instead`}`,
    );
  const by = command.issuedBy === null ? '' : ` by ${command.issuedBy}`;
  const why = command.reason === null ? '' : `: ${command.reason}`;
  current.status = command.kind === 'abort' ? 'aborted' : 'promoted';
  current.canary = [];
  current.baseline = [];
  const verdict: CanaryVerdict = command.kind === 'abort' ? 'rollback' : 'promote';
  const summary = `${command.kind === 'abort' ? 'aborted' : 'promoted'}${by}${why}`;
  return { state: current, decision: manualDecision(current, verdict, summary, command) };
}

/** Adds a window of the rollout's canary or baseline (replacing one of the same start); false if it is not the rollout's. */
function addWindow(state: RolloutState, window: RolloutWindow): boolean {
  if (window.end <= state.startedAt) return false;
  const side =
    window.version === state.canaryVersion && window.track === 'canary'
      ? state.canary
      : window.version === state.baselineVersion && window.track === 'baseline'
        ? state.baseline
        : undefined;
  if (side === undefined) return false;
  const at = side.findIndex((w) => w.start === window.start);
  if (at >= 0) side[at] = window;
  else {
    side.push(window);
    side.sort((a, b) => a.start - b.start);
    if (side.length > MAX_ROLLOUT_WINDOWS) side.splice(0, side.length - MAX_ROLLOUT_WINDOWS);
  }
  return true;
}

/** The windows closed on both tracks for the same period, in time order. */
function pairedWindows(state: RolloutState): { canary: RolloutWindow[]; baseline: RolloutWindow[] } {
  const baselineByStart = new Map(state.baseline.map((w) => [w.start, w]));
  const canary = state.canary.filter((w) => baselineByStart.has(w.start));
  return { canary, baseline: canary.map((w) => baselineByStart.get(w.start)!) };
}

function summaryOf(w: RolloutWindow): KpiWindowSummary {
  return {
    windowId: new Date(w.start).toISOString(),
    requestCount: w.requests,
    errorCount: w.errors,
    latencySamples: w.samples,
    latencySketch: LatencySketch.fromBytes(Buffer.from(w.sketch, 'base64')),
  };
}

function decisionOf(
  state: RolloutState,
  judgement: Judgement,
  decidedAt: number,
  windows: readonly RolloutWindow[],
): CanaryDecision {
  return {
    ...identityOf(state),
    status: state.status,
    verdict: judgement.verdict,
    score: judgement.score,
    summary: judgement.reasons[0] ?? judgement.verdict,
    decidedAt,
    windowsJudged: windows.length,
    evidenceJson: JSON.stringify({
      reasons: judgement.reasons,
      tests: judgement.tests,
      windows: windows.map((w) => ({ start: w.start, end: w.end })),
      requests: judgement.requests,
    }),
  };
}

function manualDecision(
  state: RolloutState,
  verdict: CanaryVerdict,
  summary: string,
  command: CanaryCommand,
): CanaryDecision {
  return {
    ...identityOf(state),
    status: state.status,
    verdict,
    score: 0,
    summary,
    decidedAt: command.issuedAt,
    windowsJudged: state.judgedPairs,
    evidenceJson: JSON.stringify({ reasons: [summary], tests: [], command: command.commandId }),
  };
}

const identityOf = (state: RolloutState): RolloutIdentity => ({
  rolloutId: state.rolloutId,
  tenantId: state.tenantId,
  service: state.service,
  canaryVersion: state.canaryVersion,
  baselineVersion: state.baselineVersion,
  stableVersion: state.stableVersion,
});
