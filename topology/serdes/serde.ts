/**
 * A serde turns values into record bytes and back, per topic (like Kafka's
 * `Serde<T>`). `serialize` is synchronous so that sinks never wait; a serde
 * that needs remote state (a schema registry) fetches it in `prepare`, which the
 * runtime awaits once per topic before the first record. `deserialize` may
 * return a promise, for a writer schema seen for the first time.
 *
 * Errors: `deserialize` throws a `DeserializationError` (see topology/errors.ts)
 * for bytes it cannot read; the runtime routes the record to the dead-letter topic.
 */
export interface Serde<T> {
  /** Shown by `describe()`, e.g. `string`, `json`, `avro(TelemetryEvent)`. */
  readonly name: string;
  serialize(value: T, topic: string): Buffer | null;
  deserialize(data: Buffer | null, topic: string): T | Promise<T>;
  /** Called once per topic before the first record is read or written. */
  prepare?(topic: string): Promise<void>;
}
