import type { Command } from 'commander';
import { describeTopology, describeTopologyMermaid } from '../../topology/index.js';
import { loadConfig } from '../config.js';
import { defaultTopology } from '../default-topology.js';

export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description(
      "print the default topology like Kafka Streams' Topology#describe(): sub-topologies, sources, processors, sinks, stores, internal topics",
    )
    .option('--mermaid', 'print a Mermaid flowchart instead of text')
    .action((options: { mermaid?: boolean }) => {
      const config = loadConfig();
      const { topology } = defaultTopology(config);
      const text = options.mermaid
        ? describeTopologyMermaid(topology, config.APPLICATION_ID)
        : describeTopology(topology, config.APPLICATION_ID);
      process.stdout.write(`${text}\n`);
    });
}
