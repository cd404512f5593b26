import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TaskMigratedError } from '../../../topology/errors.js';
import type { OutgoingRecord } from '../../../topology/index.js';
import { TaskTransactions } from '../../../topology/runtime/internal/task-transactions.js';
import type { CommitOffset, Transport } from '../../../topology/transports/transport.js';
import { ManualTransactions, tick } from '../../support/manual-log.js';

const record = (n: number): OutgoingRecord => ({
  topic: 'out',
  partition: 0,
  key: null,
  value: Buffer.from(String(n)),
  timestamp: n,
});
const offset = (partition: number, next: number): CommitOffset => ({ topic: 'in', partition, offset: next });
const values = (records: readonly OutgoingRecord[]) => records.map((r) => Number(r.value));

async function taskTransactions() {
  const log = new ManualTransactions();
  const ids: string[] = [];
  const transport = {
    transactionalProducer: async (id: string) => {
      ids.push(id);
      return log;
    },
  } as unknown as Transport;
  const transactions = new TaskTransactions(transport, 'app', pino({ level: 'silent' }));
  await transactions.open('0_1');
  return { log, ids, transactions };
}

/** Each promise's outcome once it settles, in the order they settle. */
function outcomes(promises: Record<string, Promise<void>>) {
  const seen: string[] = [];
  for (const [name, p] of Object.entries(promises))
    p.then(
      () => seen.push(`${name} committed`),
      (e: Error) => seen.push(`${name} failed: ${e.message}`),
    );
  return seen;
}

describe('a task commits what it processed during a transaction in its next one', () => {
  it('sends batches queued behind a transaction together: output in order, latest offset per partition', async () => {
    const { log, ids, transactions } = await taskTransactions();
    expect(ids).toEqual(['app-0_1']);
    const current = () => true;
    const seen = outcomes({
      a: transactions.send('0_1', [record(1)], [offset(0, 10)], current),
      b: transactions.send('0_1', [record(2), record(3)], [offset(0, 20), offset(1, 5)], current),
      c: transactions.send('0_1', [record(4)], [offset(0, 30)], current),
    });
    await tick();
    // the first went alone; the other two wait for it
    expect(log.transactions).toHaveLength(1);
    expect(values(log.transactions[0]!.records)).toEqual([1]);
    log.commit();
    await tick();
    expect(seen).toEqual(['a committed']);
    expect(log.transactions).toHaveLength(2);
    expect(values(log.transactions[1]!.records)).toEqual([2, 3, 4]);
    expect(log.transactions[1]!.offsets).toEqual([offset(0, 30), offset(1, 5)]);
    const settled = transactions.settled('0_1').then(() => seen.push('settled'));
    await tick();
    expect(seen).toEqual(['a committed']);
    log.commit();
    await settled;
    expect(seen).toEqual(['a committed', 'b committed', 'c committed', 'settled']);
  });

  it('fails the batches of a failed transaction and every batch after it; sends nothing more', async () => {
    const { log, transactions } = await taskTransactions();
    const current = () => true;
    const seen = outcomes({
      a: transactions.send('0_1', [record(1)], [offset(0, 10)], current),
      b: transactions.send('0_1', [record(2)], [offset(0, 20)], current),
    });
    await tick();
    log.fail(new Error('fenced'));
    await tick();
    await tick();
    // b was queued behind a: it goes in no transaction, it fails with a's failure
    expect(seen).toEqual(['a failed: fenced', 'b failed: fenced']);
    await expect(transactions.send('0_1', [record(3)], [offset(0, 30)], current)).rejects.toThrow('fenced');
    expect(log.transactions).toHaveLength(1);
    await transactions.allSettled();
  });

  it('sends nothing for a task closed while its batches waited', async () => {
    const { log, transactions } = await taskTransactions();
    let current = true;
    const first = transactions.send('0_1', [record(1)], [offset(0, 10)], () => current);
    const second = transactions.send('0_1', [record(2)], [offset(0, 20)], () => current);
    await tick();
    current = false;
    log.commit();
    await first;
    await expect(second).rejects.toBeInstanceOf(TaskMigratedError);
    expect(log.transactions).toHaveLength(1);
  });

  it('a task opened again after its close starts with a clean queue', async () => {
    const { log, transactions } = await taskTransactions();
    const failed = transactions.send('0_1', [record(1)], [offset(0, 10)], () => true);
    await tick();
    log.fail(new Error('brokers gone'));
    await expect(failed).rejects.toThrow('brokers gone');
    await transactions.close('0_1');
    await expect(transactions.send('0_1', [record(2)], [], () => true)).rejects.toThrow(/no transactional/);
    await transactions.open('0_1');
    const again = transactions.send('0_1', [record(2)], [offset(0, 20)], () => true);
    await tick();
    log.commit();
    await again;
    expect(values(log.transactions[1]!.records)).toEqual([2]);
  });
});
