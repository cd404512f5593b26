/**
 * The `veroai` command. Each subcommand lives in cli/commands/ and has --help.
 * Errors print as one message (with a hint when there is one), never a stack.
 */
import { Command } from 'commander';
import { VeroaiError } from '../topology/index.js';
import { registerDemo } from './commands/demo.js';
import { registerDescribe } from './commands/describe.js';
import { registerProduce } from './commands/produce.js';
import { registerRun } from './commands/run.js';
import { registerTopics } from './commands/topics.js';

const program = new Command('veroai')
  .description('VeroAI streams: Kafka-Streams-style stream processing in TypeScript')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

registerDemo(program);
registerDescribe(program);
registerRun(program);
registerProduce(program);
registerTopics(program);

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof VeroaiError) {
    process.stderr.write(
      `veroai: ${error.message}\n${error.hint === undefined ? '' : `hint: ${error.hint}\n`}`,
    );
  } else {
    process.stderr.write(`veroai: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
}
