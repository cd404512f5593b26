/**
 * Input backpressure (topology/runtime/internal/input-backpressure.ts): a
 * task holding `maxInFlight` unacknowledged batches has its partitions
 * paused until half are acknowledged; a task that is lost or closed while
 * paused is released, and its partitions resumed when asked (the consumer
 * keeps a pause across a rebalance, so a lost task's partitions would
 * otherwise never be fetched again by this member).
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../topology/record.js';
import { InputBackpressure } from '../../../topology/runtime/internal/input-backpressure.js';
import { RuntimeMetrics } from '../../../topology/runtime/metrics.js';
import type { StreamTask } from '../../../topology/runtime/stream-task.js';
import type { TransportConsumer } from '../../../topology/transports/transport.js';

const APP = 'backpressure-test';

function setUp(maxInFlight = 4) {
  const calls: string[] = [];
  const consumer = {
    pause: (tps: TopicPartition[]) => calls.push(`pause ${tps.map((t) => `${t.topic}:${t.partition}`)}`),
    resume: (tps: TopicPartition[]) => calls.push(`resume ${tps.map((t) => `${t.topic}:${t.partition}`)}`),
  } as unknown as TransportConsumer;
  let running = true;
  const registry = new Registry();
  const backpressure = new InputBackpressure(
    maxInFlight,
    () => consumer,
    () => running,
    new RuntimeMetrics(registry, APP),
    APP,
  );
  const paused = async () =>
    (await registry.getSingleMetric('veroai_paused_partitions')!.get()).values[0]?.value ?? 0;
  return { calls, backpressure, paused, stop: () => (running = false) };
}

/** A task of two input partitions whose backlog the test sets. */
const task = (id: string) => {
  const t = {
    id,
    backlog: 0,
    inputPartitions: () => [
      { topic: 'in', partition: 1 },
      { topic: 'in-repartition', partition: 1 },
    ],
  };
  return t as typeof t & StreamTask;
};

describe('input backpressure', () => {
  it('pauses a task at maxInFlight unacknowledged batches, once, and resumes it at half', async () => {
    const { calls, backpressure, paused } = setUp(4);
    const t = task('0_1');
    t.backlog = 3;
    backpressure.pauseIfFull(t);
    expect(calls).toEqual([]);
    t.backlog = 4;
    backpressure.pauseIfFull(t);
    t.backlog = 5;
    backpressure.pauseIfFull(t);
    expect(calls).toEqual(['pause in:1,in-repartition:1']);
    expect(await paused()).toBe(2);
    t.backlog = 3;
    backpressure.resumeIfDrained(t);
    expect(calls).toHaveLength(1);
    t.backlog = 2;
    backpressure.resumeIfDrained(t);
    expect(calls).toEqual(['pause in:1,in-repartition:1', 'resume in:1,in-repartition:1']);
    expect(await paused()).toBe(0);
  });

  it('does not resume once the application stops running', async () => {
    const { calls, backpressure, paused, stop } = setUp(2);
    const t = task('0_1');
    t.backlog = 2;
    backpressure.pauseIfFull(t);
    stop();
    t.backlog = 0;
    backpressure.resumeIfDrained(t);
    expect(calls).toEqual(['pause in:1,in-repartition:1']);
    expect(await paused()).toBe(2);
  });

  it('a lost task is released and its partitions resumed; a closed one without resuming; an unpaused one untouched', async () => {
    const { calls, backpressure, paused } = setUp(2);
    const lost = task('0_1');
    lost.backlog = 2;
    backpressure.pauseIfFull(lost);
    backpressure.release(lost, true);
    expect(calls).toEqual(['pause in:1,in-repartition:1', 'resume in:1,in-repartition:1']);
    expect(await paused()).toBe(0);

    const closed = task('0_2');
    closed.backlog = 2;
    backpressure.pauseIfFull(closed);
    backpressure.release(closed, false);
    expect(calls).toHaveLength(3);
    expect(await paused()).toBe(0);

    backpressure.release(task('0_3'), true);
    expect(calls).toHaveLength(3);

    // the task made again under the same id starts unpaused, and is paused again when full
    const again = task('0_1');
    again.backlog = 2;
    backpressure.pauseIfFull(again);
    expect(calls.at(-1)).toBe('pause in:1,in-repartition:1');
    expect(await paused()).toBe(2);
  });
});
