/**
 * The canary judge: canary-vs-baseline statistics over closed KPI windows,
 * as pure functions (no Kafka, no engine), plus the window summaries it reads.
 */
export {
  DEFAULT_JUDGE_CONFIG,
  type JudgeConfig,
  type JudgeConfigOverrides,
  resolveJudgeConfig,
} from './judge-config.js';
export { judgeRollout } from './judge-rollout.js';
export type {
  CountPair,
  EffectEstimate,
  Judgement,
  JudgeTestName,
  TestEvidence,
  TestStatus,
  Verdict,
} from './judgement.js';
export type { KpiWindowSummary, Track } from './kpi-window.js';
export { LatencyReservoir, type ReservoirState } from './latency-reservoir.js';
export { LatencySketch } from './latency-sketch.js';
