/**
 * The engine's public surface: the DSL, processor contracts, windows, serdes,
 * stores, errors and the StreamsApplication. Everything not exported here is
 * internal and may change without notice. Two more entry points, so that
 * loading a processor never loads a Kafka client or test tooling:
 * `topology/transports/kafka/index.js` (KafkaTransport) and
 * `topology/testing/index.js` (TestDriver).
 */
export type { BranchedKStream } from './dsl/branched-kstream.js';
export type { AggregateOptions, KGroupedStream } from './dsl/kgrouped-stream.js';
export type {
  KeyValue,
  KStream,
  Named,
  RepartitionOptions,
  StreamSerdes,
  ToOptions,
  ValueCallback,
} from './dsl/kstream.js';
export { type KTable, Suppressed } from './dsl/ktable.js';
export {
  type KeyValueStoreOptions,
  type StreamOptions,
  type TableOptions,
  TopologyBuilder,
} from './dsl/topology-builder.js';
export type {
  SessionWindowedKStream,
  TimeWindowedKStream,
  WindowedStoreOptions,
} from './dsl/windowed-kstream.js';
export * from './errors.js';
export { describeTopology, describeTopologyMermaid, internalTopics } from './plan/describe.js';
export type { TimestampExtractor } from './plan/graph.js';
export { changelogTopic, deadLetterTopic, lateRecordsTopic, type Topology } from './plan/topology.js';
export {
  type Cancellable,
  type ProcessorContext,
  type ProcessorSupplier,
  type PunctuationType,
  RecordFailure,
  type RecordProcessor,
} from './processor.js';
export type { Headers, OutgoingRecord, SourceRecord, StreamRecord, TopicPartition } from './record.js';
export { DLQ_HEADERS } from './runtime/dead-letter.js';
export { type BrokerOutageState, DEFAULT_MAX_BROKER_OUTAGE_MS } from './runtime/internal/broker-outage.js';
export { murmur2, partitionForKey } from './runtime/partitioner.js';
export {
  type ApplicationState,
  type ProcessingGuarantee,
  StreamsApplication,
  type StreamsConfig,
} from './runtime/streams-application.js';
export { bufferSerde, jsonSerde, numberSerde, Serdes, stringSerde } from './serdes/builtin.js';
export type { Serde } from './serdes/serde.js';
export { findSessionsStored, type SessionStore } from './state/session-store.js';
export {
  type KeyValueStore,
  NOT_IN_MEMORY,
  readStored,
  type StateStore,
  type StoreType,
} from './state/store.js';
export { StoreError } from './state/store-error.js';
export { TimeIndex } from './state/time-index.js';
export { MemoryLog } from './transports/memory/memory-log.js';
export { MemoryTransport } from './transports/memory/memory-transport.js';
export type { TopicSpec, Transport } from './transports/transport.js';
export type { TimestampedAggregate } from './windows/timestamped-serde.js';
export { windowedSerde } from './windows/windowed-serde.js';
export {
  SessionWindows,
  SlidingWindows,
  TimeWindows,
  type Window,
  type Windowed,
  type WindowSpec,
} from './windows/windows.js';
