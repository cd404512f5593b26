/**
 * The `veroai` command. Each subcommand lives in cli/commands/ and has --help.
 * An error prints as one line: what was wrong and, when known, what to do;
 * only an unexpected error (a bug) shows its stack. The process always ends
 * here, with the exit code of cli/lifecycle.ts (0 clean stop, 1 fatal error,
 * 2 configuration error, 3 stop deadline passed, 130/143 a second signal),
 * whatever handles a library may have left open.
 */
import { Command, CommanderError } from 'commander';
import { registerDemo } from './commands/demo.js';
import { registerDescribe } from './commands/describe.js';
import { registerProduce } from './commands/produce.js';
import { registerRun } from './commands/run.js';
import { registerScoreSeries } from './commands/score-series.js';
import { registerSimulate } from './commands/simulate.js';
import { registerTopics } from './commands/topics.js';
import { describeError, ExitCode, exitCodeOf, installSignalHandlers, say } from './lifecycle.js';

// bin/veroai.js has installed it already; `tsx cli/main.ts` has not
installSignalHandlers();

const program = new Command('veroai')
  .description('VeroAI streams: Kafka-Streams-style stream processing in TypeScript')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true })
  // commander's own errors (an unknown option, a bad argument) come back here instead of exiting
  .exitOverride();

registerDemo(program);
registerDescribe(program);
registerRun(program);
registerProduce(program);
registerScoreSeries(program);
registerSimulate(program);
registerTopics(program);

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // commander has printed the message (or the help)
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.config;
  } else {
    say(describeError(error));
    process.exitCode = exitCodeOf(error);
  }
}
process.exit(Number(process.exitCode ?? ExitCode.ok));
