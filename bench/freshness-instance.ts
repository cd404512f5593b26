/**
 * One more instance of the freshness bench's pipeline, in a process of its
 * own (see child-process.ts): it starts, reports `running`, and stops when
 * the parent sends `stop`.
 */
import { report, serveJob } from './child-process.js';
import { createFreshnessPipeline, type FreshnessPipelineOptions } from './freshness-pipeline.js';

serveJob<FreshnessPipelineOptions, { stopped: true }>(async (options) => {
  const pipeline = await createFreshnessPipeline(options);
  await pipeline.start();
  report('running');
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await pipeline.close();
  return { stopped: true };
});
