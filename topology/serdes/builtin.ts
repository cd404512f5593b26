import { DeserializationError, errorCodes, SerializationError } from '../errors.js';
import type { Serde } from './serde.js';

/** UTF-8 strings; a null stays null. */
export const stringSerde: Serde<string | null> = {
  name: 'string',
  serialize: (value) => (value === null ? null : Buffer.from(value, 'utf8')),
  deserialize: (data) => (data === null ? null : data.toString('utf8')),
};

/** Raw bytes, untouched. */
export const bufferSerde: Serde<Buffer | null> = {
  name: 'bytes',
  serialize: (value) => value,
  deserialize: (data) => data,
};

/** Counts and other numbers as UTF-8 decimal text, readable by any consumer. */
export const numberSerde: Serde<number | null> = {
  name: 'number',
  serialize: (value) => (value === null ? null : Buffer.from(String(value), 'utf8')),
  deserialize: (data, topic) => {
    if (data === null) return null;
    const n = Number(data.toString('utf8'));
    if (Number.isNaN(n)) {
      throw new DeserializationError(errorCodes.decodeInvalid, `topic '${topic}': value is not a number`);
    }
    return n;
  },
};

/** JSON documents. A body that does not parse is a DeserializationError naming the topic. */
export function jsonSerde<T>(): Serde<T> {
  return {
    name: 'json',
    serialize: (value) => {
      if (value === null || value === undefined) return null;
      try {
        return Buffer.from(JSON.stringify(value), 'utf8');
      } catch (cause) {
        throw new SerializationError('value cannot be written as JSON', { cause });
      }
    },
    deserialize: (data, topic) => {
      if (data === null) return null as T;
      try {
        return JSON.parse(data.toString('utf8')) as T;
      } catch (cause) {
        throw new DeserializationError(
          errorCodes.decodeInvalid,
          `topic '${topic}': value is not valid JSON`,
          {
            cause,
          },
        );
      }
    },
  };
}

export const Serdes = {
  string: stringSerde,
  bytes: bufferSerde,
  number: numberSerde,
  json: jsonSerde,
};
