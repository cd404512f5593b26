/**
 * The incident tracker: a per-record processor keyed by entity that turns
 * scored behaviour windows into incidents with a lifecycle, and remediation
 * results and a person's close into their changes.
 *
 * Per entity and incident kind there is at most one open incident (the
 * de-duplication). A window that matches a rule (incident-rules.ts) with a
 * signal of at least `openAbove` opens one: it must be both beyond the
 * rule's floors and unusual for the entity (or, while the entity is new, for
 * its kind). While it is open, a window whose features reach the floors
 * scaled by `stayFactor` keeps it anomalous, whatever its signal
 * (hysteresis: it opens high and closes low, and an attack that lasts stays
 * one incident although the entity's baseline slowly learns it). It leaves `open`:
 * - auto_resolved: `resolveAfterWindows` windows in a row without the signal,
 *   or as long without any window at all (the attacker went away, or was
 *   blocked: the resolution says whether a remediation was applied);
 * - escalated: its remediation failed, or was not confirmed on
 *   `remediation_results` within `remediationTimeoutMs`, or it is still open
 *   `escalateAfterMs` after detection; a person takes it from there;
 * - closed: a person closed it (`incident_commands`).
 * Each change is emitted as the incident's new state (to `security_incidents`);
 * an incident that left `open` is no longer tracked (a later attack opens a
 * new one). A confident incident of a kind that has a remediation also emits
 * a `remediation_commands` record (dry run by configuration).
 *
 * All times are event time: the latest window end the tracker has scored
 * (its clock), so a replay makes the same decisions.
 * The state (the open incidents) lives in a changelogged key-value store.
 */
import {
  type AnomalyScore,
  entityOfKey,
  type IncidentCommand,
  type IncidentKind,
  type IncidentSeverity,
  incidentIdOf,
  incidentTopicKeyOf,
  parseIncidentId,
  type RemediationCommand,
  type RemediationResult,
  remediationCommandIdOf,
  type SecurityIncident,
} from '../../schemas/index.js';
import type { KeyValueStore, ProcessorContext, RecordProcessor, StreamRecord } from '../../topology/index.js';
import { DEFAULT_INCIDENT_RULES, featuresOf, type IncidentRule, matchRule } from './incident-rules.js';
import { summaryOf } from './incident-summary.js';

export const SECURITY_INCIDENTS_STORE = 'security-incidents';

/** What reaches the tracker, keyed by entity key. */
export type IncidentInput =
  | { readonly score: AnomalyScore }
  | { readonly result: RemediationResult }
  | { readonly close: IncidentCommand };

/** What leaves it: an incident's new state (keyed by tenant) or a remediation command (keyed by target). */
export type IncidentOutput =
  | { readonly incident: SecurityIncident }
  | { readonly command: RemediationCommand };

export interface IncidentTrackerOptions {
  /** Behaviour window size (the tracker counts quiet time in windows). Default 30 s. */
  readonly windowMs?: number;
  readonly rules?: readonly IncidentRule[];
  /** Signal at which a matching window opens an incident. Default 0.8. */
  readonly openAbove?: number;
  /** Share of the rule's floors a window must reach to keep an open incident anomalous. Default 0.5. */
  readonly stayFactor?: number;
  /** Windows without the signal after which an incident auto-resolves. Default 3. */
  readonly resolveAfterWindows?: number;
  /** Confidence from which an incident of a kind with a remediation gets one. Default 0.9. */
  readonly remediateAbove?: number;
  /** How long a remediation holds (its command's TTL). Default 1 hour. */
  readonly remediationTtlMs?: number;
  /** How long a remediation may wait for its result before the incident escalates. Default 2 minutes. */
  readonly remediationTimeoutMs?: number;
  /** An incident still open this long after detection escalates. Default 30 minutes. */
  readonly escalateAfterMs?: number;
  /** Emit commands marked dryRun, await no result. Default false. */
  readonly dryRun?: boolean;
}

/** An open incident as the store keeps it. */
interface Tracked {
  incident: SecurityIncident;
  /** Matching windows without the signal in a row. */
  quietWindows: number;
  /** End of the latest window with the signal. */
  lastSignalAt: number;
}

/** The open incidents of one entity, by kind. */
export type TrackedEntity = Partial<Record<IncidentKind, Tracked>>;

const SEVERITIES: readonly IncidentSeverity[] = ['low', 'medium', 'high', 'critical'];
const MAX_SAMPLE_EVENT_IDS = 10;
const TOP_FEATURES = 3;

export function incidentTracker(options: IncidentTrackerOptions = {}) {
  const windowMs = options.windowMs ?? 30_000;
  const rules = options.rules ?? DEFAULT_INCIDENT_RULES;
  const openAbove = options.openAbove ?? 0.8;
  const stayFactor = options.stayFactor ?? 0.5;
  const resolveAfter = options.resolveAfterWindows ?? 3;
  const remediateAbove = options.remediateAbove ?? 0.9;
  const ttlMs = options.remediationTtlMs ?? 3_600_000;
  const timeoutMs = options.remediationTimeoutMs ?? 120_000;
  const escalateAfterMs = options.escalateAfterMs ?? 30 * 60_000;
  const dryRun = options.dryRun ?? false;

  return (context: ProcessorContext): RecordProcessor<string, IncidentInput> => {
    const store = context.getStateStore<KeyValueStore<string, TrackedEntity>>(SECURITY_INCIDENTS_STORE);
    const emit = (source: StreamRecord<unknown, unknown>, output: IncidentOutput) =>
      context.forward({
        ...source,
        key: 'incident' in output ? incidentTopicKeyOf(output.incident) : output.command.target,
        value: output,
      });

    /**
     * The tracker's clock: the latest end of a window it scored. The task's
     * stream time runs a window grace ahead of it (it counts the events
     * being aggregated); measured by stream time, a long grace would time an
     * incident out as it opens. After a restart it starts again with the
     * next window.
     */
    let clock = -1;
    // quiet entities (blocked, gone) and overdue remediations are found as time passes, not on their next window
    context.schedule(windowMs, 'stream-time', async () => {
      const now = clock;
      if (now < 0) return;
      const changed: Array<[string, TrackedEntity]> = [];
      for await (const [key, entity] of store.all()) {
        let touched = false;
        for (const tracked of Object.values(entity)) {
          if (tracked === undefined) continue;
          const next = onTime(tracked, now);
          if (next === undefined) continue;
          touched = true;
          context.forward({
            topic: '',
            partition: context.partition,
            offset: -1,
            key: incidentTopicKeyOf(next),
            value: { incident: next } as IncidentOutput,
            timestamp: now,
            headers: {},
          });
          if (next.status === 'open') tracked.incident = next;
          else delete entity[next.kind];
        }
        if (touched) changed.push([key, entity]);
      }
      for (const [key, entity] of changed) save(key, entity);
    });

    const save = (key: string, entity: TrackedEntity) => {
      if (Object.keys(entity).length === 0) store.delete(key);
      else store.put(key, entity);
    };

    /** The incident after stream time reached `now` without news, or undefined when nothing changes. */
    const onTime = (tracked: Tracked, now: number): SecurityIncident | undefined => {
      const { incident } = tracked;
      const remediation = incident.remediation;
      if (remediation?.status === 'pending' && now >= remediation.issuedAt + timeoutMs)
        return leave(
          { ...incident, remediation: { ...remediation, status: 'timed_out' } },
          'escalated',
          now,
          `remediation ${remediation.action} not confirmed within ${Math.round(timeoutMs / 1000)} s`,
        );
      if (now - tracked.lastSignalAt >= resolveAfter * windowMs)
        return leave(
          incident,
          'auto_resolved',
          now,
          resolutionOf(incident, `no signal for ${resolveAfter} windows`),
        );
      if (now - incident.detectedAt >= escalateAfterMs)
        return leave(
          incident,
          'escalated',
          now,
          `still active ${Math.round(escalateAfterMs / 60_000)} min after detection`,
        );
      return undefined;
    };

    const onScore = (
      record: StreamRecord<string, IncidentInput>,
      score: AnomalyScore,
      entity: TrackedEntity,
    ) => {
      clock = Math.max(clock, score.windowEnd);
      const features = featuresOf(score);
      for (const rule of rules) {
        if (rule.entityKind !== score.entityKind) continue;
        const { matched, signal } = matchRule(rule, features);
        const tracked = entity[rule.kind];
        if (tracked === undefined) {
          if (!(matched && signal >= openAbove)) continue;
          const opened = open(record.key, rule, score, signal);
          entity[rule.kind] = { incident: opened.incident, quietWindows: 0, lastSignalAt: score.windowEnd };
          emit(record, { incident: opened.incident });
          if (opened.command !== undefined) emit(record, { command: opened.command });
          continue;
        }
        if (score.windowEnd <= tracked.lastSignalAt) continue;
        if (matchRule(rule, features, stayFactor).matched) {
          tracked.quietWindows = 0;
          tracked.lastSignalAt = score.windowEnd;
          // an incident that became confident while open gets its remediation then
          const strengthened = remediate(strengthen(tracked.incident, rule, score, signal), rule, score);
          tracked.incident = strengthened.incident;
          emit(record, { incident: tracked.incident });
          if (strengthened.command !== undefined) emit(record, { command: strengthened.command });
          continue;
        }
        tracked.quietWindows += 1;
        if (tracked.quietWindows >= resolveAfter) {
          const resolved = leave(
            tracked.incident,
            'auto_resolved',
            score.windowEnd,
            resolutionOf(tracked.incident, `signal back to normal for ${resolveAfter} windows`),
          );
          delete entity[rule.kind];
          emit(record, { incident: resolved });
        }
      }
    };

    const open = (
      entityKey: string,
      rule: IncidentRule,
      score: AnomalyScore,
      signal: number,
    ): { incident: SecurityIncident; command?: RemediationCommand } => {
      const incidentId = incidentIdOf(entityKey, rule.kind, score.windowEnd);
      const topFeatures = topFeaturesOf(score);
      const identity = {
        kind: rule.kind,
        entityKind: score.entityKind,
        entityId: score.entityId,
        tenantId: score.tenantId,
      };
      const summary = summaryOf(identity, score.features, windowMs);
      const incident: SecurityIncident = {
        incidentId,
        ...identity,
        severity: severityOf(rule, signal, 1),
        status: 'open',
        confidence: signal,
        firstSeenAt: score.windowStart,
        detectedAt: score.windowEnd,
        updatedAt: score.windowEnd,
        resolvedAt: null,
        resolution: null,
        anomalousWindows: 1,
        topFeatures,
        sampleEventIds: score.sampleEventIds.slice(0, MAX_SAMPLE_EVENT_IDS),
        summary,
        remediation: null,
      };
      return remediate(incident, rule, score);
    };

    /** The incident with a remediation and its command, when its kind has one and it is confident enough. */
    const remediate = (
      incident: SecurityIncident,
      rule: IncidentRule,
      score: AnomalyScore,
    ): { incident: SecurityIncident; command?: RemediationCommand } => {
      if (rule.remediation === null || incident.remediation !== null || incident.confidence < remediateAbove)
        return { incident };
      const commandId = remediationCommandIdOf(incident.incidentId, rule.remediation);
      const command: RemediationCommand = {
        commandId,
        incidentId: incident.incidentId,
        action: rule.remediation,
        target: targetOf(score),
        tenantId: score.tenantId,
        issuedAt: score.windowEnd,
        expiresAt: score.windowEnd + ttlMs,
        ttlMs,
        dryRun,
        reason: incident.summary,
      };
      return {
        incident: {
          ...incident,
          remediation: {
            commandId,
            action: rule.remediation,
            status: dryRun ? 'dry_run' : 'pending',
            issuedAt: command.issuedAt,
            expiresAt: command.expiresAt,
          },
        },
        command,
      };
    };

    const strengthen = (
      incident: SecurityIncident,
      rule: IncidentRule,
      score: AnomalyScore,
      signal: number,
    ): SecurityIncident => {
      const anomalousWindows = incident.anomalousWindows + 1;
      const stronger = signal > incident.confidence;
      const samples = [...incident.sampleEventIds, ...score.sampleEventIds].slice(0, MAX_SAMPLE_EVENT_IDS);
      return {
        ...incident,
        confidence: Math.max(incident.confidence, signal),
        severity: severityOf(rule, Math.max(incident.confidence, signal), anomalousWindows),
        anomalousWindows,
        updatedAt: score.windowEnd,
        sampleEventIds: samples,
        ...(stronger
          ? {
              topFeatures: topFeaturesOf(score),
              summary: summaryOf(incident, score.features, windowMs),
            }
          : {}),
      };
    };

    const onResult = (result: RemediationResult, entity: TrackedEntity): SecurityIncident | undefined => {
      const kind = parseIncidentId(result.incidentId)?.kind;
      const tracked = kind === undefined ? undefined : entity[kind];
      const remediation = tracked?.incident.remediation;
      // a result for an incident no longer open, or for another command, changes nothing
      if (tracked === undefined || remediation?.commandId !== result.commandId) return undefined;
      if (remediation.status !== 'pending' && remediation.status !== 'timed_out') return undefined;
      // the result's own time: when the enforcer acted
      const now = Math.max(clock, result.at, tracked.incident.updatedAt);
      if (result.status === 'applied') {
        tracked.incident = {
          ...tracked.incident,
          remediation: { ...remediation, status: 'applied' },
          updatedAt: now,
        };
        return tracked.incident;
      }
      delete entity[kind!];
      const why = result.message === null ? '' : `: ${result.message}`;
      return leave(
        { ...tracked.incident, remediation: { ...remediation, status: 'failed' } },
        'escalated',
        now,
        `remediation ${remediation.action} failed${why}`,
      );
    };

    const onClose = (command: IncidentCommand, entity: TrackedEntity): SecurityIncident | undefined => {
      const kind = parseIncidentId(command.incidentId)?.kind;
      const tracked = kind === undefined ? undefined : entity[kind];
      if (tracked === undefined || tracked.incident.incidentId !== command.incidentId) return undefined;
      delete entity[kind!];
      const why = command.reason === null ? '' : `: ${command.reason}`;
      const now = Math.max(clock, command.issuedAt, tracked.incident.updatedAt);
      return leave(tracked.incident, 'closed', now, `closed by ${command.actor}${why}`);
    };

    return {
      async process(record) {
        const entity = (await store.get(record.key)) ?? {};
        const input = record.value;
        if ('score' in input) onScore(record, input.score, entity);
        else {
          const changed = 'result' in input ? onResult(input.result, entity) : onClose(input.close, entity);
          if (changed !== undefined) emit(record, { incident: changed });
        }
        save(record.key, entity);
      },
    };
  };
}

/** The incident in a final status. */
function leave(
  incident: SecurityIncident,
  status: 'auto_resolved' | 'escalated' | 'closed',
  at: number,
  resolution: string,
): SecurityIncident {
  return { ...incident, status, updatedAt: at, resolvedAt: at, resolution };
}

function resolutionOf(incident: SecurityIncident, quiet: string): string {
  const remediation = incident.remediation;
  return remediation?.status === 'applied' ? `remediation ${remediation.action} applied; ${quiet}` : quiet;
}

/** One level above the rule's base when the signal is near-certain or the incident lasts (10 windows). */
function severityOf(rule: IncidentRule, confidence: number, windows: number): IncidentSeverity {
  const base = SEVERITIES.indexOf(rule.baseSeverity);
  const bump = confidence >= 0.97 || windows >= 10 ? 1 : 0;
  return SEVERITIES[Math.min(base + bump, SEVERITIES.length - 1)] as IncidentSeverity;
}

function topFeaturesOf(score: AnomalyScore) {
  return [...score.features]
    .filter((f) => f.score > 0)
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name))
    .slice(0, TOP_FEATURES);
}

/** Who a remediation acts on: the IP, the user (`tenantId/userId`) or the tenant. */
function targetOf(score: AnomalyScore): string {
  return score.entityKind === 'user' ? `${score.tenantId}/${score.entityId}` : score.entityId;
}

/** The entity key a remediation result or a close belongs to (the task that holds its incident). */
export function entityKeyOfIncident(incidentId: string): string | undefined {
  const parsed = parseIncidentId(incidentId);
  return parsed === undefined || entityOfKey(parsed.entityKey) === undefined ? undefined : parsed.entityKey;
}
