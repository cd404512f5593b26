/**
 * The SOC (issue 12) measured on labelled traffic: every scenario of
 * cli/security-scenarios.ts, over several seeds, through simulateSecurity
 * (clean telemetry → behaviour windows → anomaly scores → incident tracker,
 * in this process on the memory transport through the test driver, with the
 * simulated enforcer). Each run starts at a seeded offset in [0, 30 s) past a
 * whole 30-second window, so the attack does not begin on a window boundary
 * (the offset is reported per run's scenario as `attack_start_offsets_s`).
 *
 * Definitions (an incident is counted once, by id, in its latest state):
 * - true positive: an incident whose (kind, entityKey) its scenario expects
 *   and whose detectedAt is ≥ attackStart (during or after the attack);
 *   every other incident is a false positive (in a must-not-alert scenario,
 *   every incident);
 * - precision = true-positive incidents / all incidents (null when none);
 * - recall = expected (run, kind, entity) with a true-positive incident /
 *   expected (run, kind, entity);
 * - false_positive_rate = runs with at least one false-positive incident /
 *   all runs (attack runs and must-not-alert runs: traffic-surge,
 *   tenant-onboarding, quiet). Per run rather than per benign entity-window
 *   because an incident spans windows and the tracker, not the window, is
 *   what pages someone; the per-window figure is reported beside it as
 *   `false_positives_per_benign_entity_window` (false-positive incidents /
 *   30 s windows of the tenant, user and IP entities the traffic touched,
 *   the expected entities excluded);
 * - ttd = detectedAt − attackStart (event time, s) of each expected
 *   (run, kind, entity)'s first true-positive incident; p50/p95 nearest rank
 *   (bench/percentile.ts), null when nothing was detected;
 * - auto_resolution_rate = incidents ending auto_resolved / incidents that
 *   ended (auto_resolved, escalated or closed); those still open when the
 *   traffic ends are counted apart (`incidents_open_at_end`);
 * - events_per_s = events fed (after the enforcer's drops) / wall time
 *   simulateSecurity spent feeding and processing them, summed over runs:
 *   in process, memory transport (`transport`). `clean_only_events_per_s`
 *   is the same traffic, in the same 10 s steps, through a topology of clean
 *   telemetry alone, measured in the same process right after each run, and
 *   `soc_cost_ratio` = clean_only_events_per_s / events_per_s (how many
 *   times slower the whole SOC is than its input stage).
 *
 * The input is checked before it is counted: attack scenarios must carry
 * expected incidents and attack events inside [attackStart, attackEnd), the
 * must-not-alert scenarios neither, and attackStart must sit at the chosen
 * offset within its window; the per-scenario breakdown reports the events,
 * attack events and attack share it measured.
 */

import {
  SECURITY_SCENARIOS,
  type SecurityScenarioName,
  type SecurityTraffic,
  securityEventKey,
} from '../cli/security-scenarios.js';
import { simulateSecurity } from '../cli/security-simulation.js';
import { entitiesOf } from '../processors/anomaly/behaviour-window.js';
import { seededRandom } from '../processors/seeded-random.js';
import { cleanTelemetry, RAW_EVENTS_TOPIC } from '../processors/telemetry/clean-telemetry.js';
import { entityKeyOf, type SecurityIncident, telemetryEventSerde } from '../schemas/index.js';
import { TopologyBuilder } from '../topology/index.js';
import { TestDriver } from '../topology/testing/index.js';
import { percentile } from './percentile.js';
import { RssSampler } from './rss-sampler.js';

export interface SocBenchOptions {
  /** Seeds per scenario. Default 3. */
  readonly seeds: number;
  /** First seed. Default 1. */
  readonly seed: number;
}

const WINDOW_MS = 30_000;
/** Event time fed per step, as simulateSecurity feeds it. */
const STEP_MS = 10_000;
/** A whole window: 08:00 UTC, so the attack (2 h of warm-up later) falls by day. */
const BASE_START = Date.UTC(2026, 0, 5, 8, 0, 0);

const incidentEntityKey = (i: SecurityIncident) =>
  entityKeyOf({ kind: i.entityKind, id: i.entityId, tenantId: i.tenantId });

/** The run's offset within a window, in whole ms in [0, 30 s): its own seeded draw. */
function offsetMs(name: SecurityScenarioName, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return Math.floor(seededRandom(h ^ 0x50c)() * WINDOW_MS);
}

/** Throws unless the traffic is what its scenario says it is; its counts. */
function checkedInput(name: SecurityScenarioName, traffic: SecurityTraffic, offset: number) {
  const scenario = SECURITY_SCENARIOS[name];
  const fail = (what: string) => {
    throw new Error(`soc bench: scenario '${name}' input is not what it claims: ${what}`);
  };
  let attackEvents = 0;
  let injected = 0;
  let previous = -Infinity;
  for (const e of traffic.events) {
    if (e.timestamp < previous) fail('events are not sorted by time');
    previous = e.timestamp;
    if (traffic.isInjected(e)) injected += 1;
    if (!traffic.isAttack(e)) continue;
    attackEvents += 1;
    if (
      traffic.attackStart === null ||
      traffic.attackEnd === null ||
      e.timestamp < traffic.attackStart ||
      e.timestamp >= traffic.attackEnd
    )
      fail(`attack event ${e.eventId} at ${e.timestamp} outside the attack`);
  }
  if (scenario.attack && (traffic.expected.length === 0 || attackEvents === 0))
    fail(`an attack with ${traffic.expected.length} expected incidents and ${attackEvents} attack events`);
  if (!scenario.attack && (traffic.expected.length > 0 || attackEvents > 0))
    fail(`must not alert, yet ${traffic.expected.length} expected incidents, ${attackEvents} attack events`);
  if (traffic.attackStart !== null && traffic.attackStart % WINDOW_MS !== offset)
    fail(`attack starts ${traffic.attackStart % WINDOW_MS} ms into its window, not ${offset}`);
  return { events: traffic.events.length, attackEvents, injected };
}

/** 30 s windows of the entities the traffic touched, those expected excluded. */
function benignEntityWindows(traffic: SecurityTraffic): number {
  const expected = new Set(traffic.expected.map((x) => x.entityKey));
  const seen = new Set<string>();
  for (const e of traffic.events) {
    const window = Math.floor(e.timestamp / WINDOW_MS);
    for (const entity of entitiesOf(e)) {
      const key = entityKeyOf(entity);
      if (!expected.has(key)) seen.add(`${key}@${window}`);
    }
  }
  return seen.size;
}

/** Wall time (ms) of the same traffic through clean telemetry alone, fed in the same steps. */
async function cleanOnlyMs(traffic: SecurityTraffic): Promise<number> {
  const builder = new TopologyBuilder();
  cleanTelemetry(builder, { telemetrySerde: telemetryEventSerde() });
  const driver = await TestDriver.create(builder.build(), { applicationId: 'veroai-bench-soc-clean' });
  const started = performance.now();
  try {
    const all = traffic.events;
    for (let i = 0; i < all.length; ) {
      const stepEnd = all[i]!.timestamp + STEP_MS;
      const from = i;
      while (i < all.length && all[i]!.timestamp < stepEnd) i++;
      await driver.pipeInputs(
        RAW_EVENTS_TOPIC,
        all.slice(from, i).map((e) => ({ key: securityEventKey(e), value: e, timestamp: e.timestamp })),
      );
    }
    return performance.now() - started;
  } finally {
    await driver.close();
  }
}

interface ScenarioTally {
  runs: number;
  events: number;
  attackEvents: number;
  injected: number;
  eventsFed: number;
  incidents: number;
  truePositives: number;
  falsePositives: number;
  runsWithFalsePositive: number;
  expected: number;
  detected: number;
  ttdS: number[];
  statuses: Record<string, number>;
  offsetsS: number[];
}

const round = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
const ratio = (a: number, b: number) => (b === 0 ? null : round(a / b, 4));

export async function benchSoc(options: SocBenchOptions) {
  const began = performance.now();
  const rss = new RssSampler();
  const names = Object.keys(SECURITY_SCENARIOS) as SecurityScenarioName[];
  const tallies = new Map<SecurityScenarioName, ScenarioTally>();
  const ttdS: number[] = [];
  let incidents = 0;
  let truePositives = 0;
  let expectedTotal = 0;
  let detectedTotal = 0;
  let runs = 0;
  let runsWithFalsePositive = 0;
  let falsePositives = 0;
  let benignWindows = 0;
  let autoResolved = 0;
  let ended = 0;
  let openAtEnd = 0;
  let eventsFed = 0;
  let socMs = 0;
  let cleanEvents = 0;
  let cleanMs = 0;

  for (let s = 0; s < options.seeds; s++) {
    const seed = options.seed + s;
    for (const name of names) {
      const offset = offsetMs(name, seed);
      const sim = await simulateSecurity(name, { seed, startTime: BASE_START + offset });
      const { traffic } = sim;
      const input = checkedInput(name, traffic, offset);
      const attackStart = traffic.attackStart;
      const expectedKeys = new Set(traffic.expected.map((x) => `${x.kind} ${x.entityKey}`));
      const firstDetection = new Map<string, number>();
      let runFalsePositives = 0;
      const t: ScenarioTally = tallies.get(name) ?? {
        runs: 0,
        events: 0,
        attackEvents: 0,
        injected: 0,
        eventsFed: 0,
        incidents: 0,
        truePositives: 0,
        falsePositives: 0,
        runsWithFalsePositive: 0,
        expected: 0,
        detected: 0,
        ttdS: [],
        statuses: {},
        offsetsS: [],
      };
      for (const incident of sim.incidents) {
        const key = `${incident.kind} ${incidentEntityKey(incident)}`;
        const truePositive =
          expectedKeys.has(key) && attackStart !== null && incident.detectedAt >= attackStart;
        if (truePositive) {
          truePositives += 1;
          t.truePositives += 1;
          const first = firstDetection.get(key);
          if (first === undefined || incident.detectedAt < first)
            firstDetection.set(key, incident.detectedAt);
        } else runFalsePositives += 1;
        t.statuses[incident.status] = (t.statuses[incident.status] ?? 0) + 1;
        if (incident.status === 'open') openAtEnd += 1;
        else {
          ended += 1;
          if (incident.status === 'auto_resolved') autoResolved += 1;
        }
      }
      for (const detectedAt of firstDetection.values()) {
        const seconds = (detectedAt - attackStart!) / 1000;
        ttdS.push(seconds);
        t.ttdS.push(seconds);
      }
      incidents += sim.incidents.length;
      falsePositives += runFalsePositives;
      expectedTotal += expectedKeys.size;
      detectedTotal += firstDetection.size;
      runs += 1;
      if (runFalsePositives > 0) runsWithFalsePositive += 1;
      benignWindows += benignEntityWindows(traffic);
      eventsFed += sim.eventsFed;
      socMs += sim.elapsedMs;
      const cleanRunMs = await cleanOnlyMs(traffic);
      cleanEvents += traffic.events.length;
      cleanMs += cleanRunMs;

      t.runs += 1;
      t.events += input.events;
      t.attackEvents += input.attackEvents;
      t.injected += input.injected;
      t.eventsFed += sim.eventsFed;
      t.incidents += sim.incidents.length;
      t.falsePositives += runFalsePositives;
      if (runFalsePositives > 0) t.runsWithFalsePositive += 1;
      t.expected += expectedKeys.size;
      t.detected += firstDetection.size;
      t.offsetsS.push(offset / 1000);
      tallies.set(name, t);
      process.stderr.write(
        `soc bench: seed ${seed} ${name} (+${(offset / 1000).toFixed(3)} s): ${input.events} events, ` +
          `${input.attackEvents} attack, ${sim.incidents.length} incidents ` +
          `(${sim.incidents.length - runFalsePositives} TP), ${firstDetection.size}/${expectedKeys.size} detected, ` +
          `${Math.round(sim.eventsFed / (sim.elapsedMs / 1000))} ev/s SOC, ` +
          `${Math.round(traffic.events.length / (cleanRunMs / 1000))} ev/s clean only\n`,
      );
    }
  }

  const sortedTtd = [...ttdS].sort((a, b) => a - b);
  const eventsPerS = eventsFed / (socMs / 1000);
  const cleanOnlyPerS = cleanEvents / (cleanMs / 1000);
  const scenarios: Record<string, object> = {};
  for (const [name, t] of tallies) {
    const sorted = [...t.ttdS].sort((a, b) => a - b);
    scenarios[name] = {
      attack: SECURITY_SCENARIOS[name].attack,
      runs: t.runs,
      events: t.events,
      attack_events: t.attackEvents,
      attack_share: ratio(t.attackEvents, t.events),
      injected_events: t.injected,
      events_fed: t.eventsFed,
      dropped_by_enforcer: t.events - t.eventsFed,
      incidents: t.incidents,
      true_positives: t.truePositives,
      false_positives: t.falsePositives,
      runs_with_false_positive: t.runsWithFalsePositive,
      expected: t.expected,
      detected: t.detected,
      recall: ratio(t.detected, t.expected),
      ttd_s: sorted.length === 0 ? null : sorted,
      statuses: t.statuses,
      attack_start_offsets_s: t.offsetsS,
    };
  }
  return {
    bench: 'soc',
    precision: ratio(truePositives, incidents),
    recall: ratio(detectedTotal, expectedTotal),
    false_positive_rate: ratio(runsWithFalsePositive, runs),
    ttd_p50_s: round(percentile(sortedTtd, 50)),
    ttd_p95_s: round(percentile(sortedTtd, 95)),
    auto_resolution_rate: ratio(autoResolved, ended),
    events_per_s: Math.round(eventsPerS),
    transport: 'memory',
    clean_only_events_per_s: Math.round(cleanOnlyPerS),
    soc_cost_ratio: round(cleanOnlyPerS / eventsPerS, 2),
    runs,
    seeds: options.seeds,
    first_seed: options.seed,
    incidents,
    true_positives: truePositives,
    false_positives: falsePositives,
    runs_with_false_positive: runsWithFalsePositive,
    false_positives_per_benign_entity_window: benignWindows === 0 ? null : falsePositives / benignWindows,
    benign_entity_windows: benignWindows,
    expected: expectedTotal,
    detected: detectedTotal,
    incidents_ended: ended,
    incidents_auto_resolved: autoResolved,
    incidents_open_at_end: openAtEnd,
    events_fed: eventsFed,
    clean_only_events: cleanEvents,
    scenarios,
    seconds: Math.round((performance.now() - began) / 100) / 10,
    rss_mb: rss.stop(),
  };
}
