import {
  DEPLOYMENT_TRACKS,
  type DeploymentTrack,
  type KpiWindow,
  kpiKeyOf,
  type TelemetryEvent,
} from '../../schemas/index.js';
import {
  type KStream,
  type Serde,
  Serdes,
  Suppressed,
  TimeWindows,
  TopologyError,
} from '../../topology/index.js';
import { isApiEvent } from '../features/endpoint-health.js';
import {
  addToKpiWindow,
  emptyKpiAccumulator,
  type KpiAccumulator,
  type KpiObservation,
  kpiObservationOf,
  kpiWindowOf,
  seedOf,
} from './kpi-accumulator.js';

export const KPI_WINDOWS_TOPIC = 'kpi_windows';
/** The window store of the KPI windows being aggregated. */
export const KPI_WINDOWS_STORE = 'kpi-windows';

export interface KpiWindowsOptions {
  readonly kpiSerde: Serde<KpiWindow>;
  /** Tumbling window size. Default 1 minute. */
  readonly windowMs?: number;
  /** How long after its end a window still takes out-of-order requests. Default 10 seconds. */
  readonly graceMs?: number;
  /** Called with each closed window (e.g. to set the Prometheus gauges of its build). */
  readonly onClosed?: (window: KpiWindow) => void;
}

/**
 * KPI windows per service build and track: from the clean telemetry, the API
 * requests that name their deployment (`deployment` set; others are ignored)
 * are keyed `tenantId/service/version/track` (repartitioned with only the two
 * facts a window needs), aggregated in tumbling windows (request and error
 * counts, a latency sketch, a bounded latency sample) and emitted once per
 * window when it closes (stream time past its end plus grace) to `kpi_windows`.
 * Returns the closed windows, keyed as the topic.
 */
export function kpiWindows(
  events: KStream<string, TelemetryEvent>,
  options: KpiWindowsOptions,
): KStream<string, KpiWindow> {
  const windows = TimeWindows.ofSizeAndGrace(options.windowMs ?? 60_000, options.graceMs ?? 10_000);
  const closed = events
    .filter((event) => isApiEvent(event) && event.deployment !== null, { name: 'deployed-api-requests' })
    .map(
      (event) => ({
        key: kpiKeyOf({ tenantId: event.tenantId, ...event.deployment! }),
        value: kpiObservationOf(event),
      }),
      { name: 'key-by-build', key: Serdes.string as Serde<string>, value: Serdes.json<KpiObservation>() },
    )
    .groupByKey({ name: 'requests-by-build' })
    .windowedBy(windows)
    .aggregate<KpiAccumulator>(
      emptyKpiAccumulator,
      (key, observation, acc) => addToKpiWindow(acc, observation, seedOf(key, 0)),
      { name: KPI_WINDOWS_STORE, value: Serdes.json<KpiAccumulator>() },
    )
    .suppress(Suppressed.untilWindowCloses(), { name: 'kpi-windows-closing' })
    .toStream()
    .filter((acc) => acc !== null, { name: 'closed-kpi-windows' })
    .map(
      (acc, record) => ({
        key: record.key.key,
        value: kpiWindowOf(buildOfKey(record.key.key), record.key.window, acc!),
      }),
      { name: 'kpi-window-record', key: Serdes.string as Serde<string>, value: options.kpiSerde },
    );
  const reported =
    options.onClosed === undefined
      ? closed
      : closed.peek((w) => options.onClosed!(w), { name: 'kpi-window-gauges' });
  reported.to(KPI_WINDOWS_TOPIC, { name: 'kpi-windows-out' });
  return reported;
}

/** The build of a `tenantId/service/version/track` key (service has no '/', the version may). */
export function buildOfKey(key: string): Pick<KpiWindow, 'tenantId' | 'service' | 'version' | 'track'> {
  const first = key.indexOf('/');
  const second = key.indexOf('/', first + 1);
  const last = key.lastIndexOf('/');
  const track = key.slice(last + 1) as DeploymentTrack;
  if (first < 0 || second < 0 || last <= second || !DEPLOYMENT_TRACKS.includes(track))
    throw new TopologyError(`'${key}' is not a KPI key tenantId/service/version/track`);
  return {
    tenantId: key.slice(0, first),
    service: key.slice(first + 1, second),
    version: key.slice(second + 1, last),
    track,
  };
}
