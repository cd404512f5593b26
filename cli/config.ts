/**
 * The application's configuration, from environment variables only (see
 * README "Configuration" and .env.example). Validated once at start-up: every
 * bad value is reported at once, naming the variable and the expected form.
 */
import { z } from 'zod';
import { DEFAULT_SINK_MAX_OUTAGE_MS } from '../processors/write-batch-to-sink.js';
import { ConfigError, DEFAULT_MAX_BROKER_OUTAGE_MS } from '../topology/index.js';

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  )
  .refine((list) => list.length > 0 && list.every((b) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(b)), {
    message: 'expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
  });

const port = z.coerce.number().int().min(0).max(65_535);

const OUTAGE_FORM = 'expected a positive whole number of milliseconds, e.g. 30000 for 30 s';

const schema = z
  .object({
    APPLICATION_ID: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,200}$/, 'expected letters, digits, ".", "_" or "-" (it prefixes topic names)')
      .default('veroai'),
    TRANSPORT: z.enum(['memory', 'kafka']).default('memory'),
    KAFKA_BROKERS: brokerList.optional(),
    SCHEMA_REGISTRY_URL: z.url('expected an http(s) URL, e.g. http://127.0.0.1:8081').optional(),
    PROCESSING_GUARANTEE: z.enum(['at_least_once', 'exactly_once']).default('at_least_once'),
    COMMIT_INTERVAL_MS: z.coerce.number().int().min(10, 'expected at least 10 (milliseconds)').default(1000),
    STATE_DIR: z.string().min(1).default('.state'),
    STATE_STORE: z.enum(['rocksdb', 'memory']).default('rocksdb'),
    // how long the local state of a task this instance no longer runs is kept before it is deleted
    STATE_CLEANUP_DELAY_MS: z.coerce
      .number({ error: 'expected a whole number of milliseconds, e.g. 600000 for 10 min' })
      .int('expected a whole number of milliseconds, e.g. 600000 for 10 min')
      .min(1_000, 'expected at least 1000 (milliseconds), e.g. 600000 for 10 min')
      .default(600_000),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port or rediss://host:port')
      .default('redis://127.0.0.1:6379'),
    API_HOST: z.string().min(1).default('127.0.0.1'),
    API_PORT: port.default(8080),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // how long a stop (SIGINT/SIGTERM, --duration) may wait for the batches in progress; past it they are
    // abandoned uncommitted and the process exits 3
    STOP_TIMEOUT_MS: z.coerce
      .number({ error: 'expected a whole number of milliseconds, e.g. 30000 for 30 s' })
      .int('expected a whole number of milliseconds, e.g. 30000 for 30 s')
      .min(100, 'expected at least 100 (milliseconds), e.g. 30000 for 30 s')
      .default(30_000),
    SAMPLE_EVENTS_PER_SECOND: z.coerce.number().int().min(0).default(200),
    // a secret: parsed (and its errors reported without echoing it) by api/auth.ts parseApiKeys
    API_KEYS: z.string().optional(),
    SESSION_GAP_MS: z.coerce.number().int().min(1_000, 'expected at least 1000 (milliseconds)').optional(),
    SESSION_GRACE_MS: z.coerce.number().int().min(0, 'expected 0 or more (milliseconds)').optional(),
    CANARY_WINDOW_MS: z.coerce.number().int().min(1_000, 'expected at least 1000 (milliseconds)').optional(),
    CANARY_WINDOW_GRACE_MS: z.coerce.number().int().min(0, 'expected 0 or more (milliseconds)').optional(),
    SECURITY_WINDOW_MS: z.coerce
      .number()
      .int()
      .min(1_000, 'expected at least 1000 (milliseconds)')
      .optional(),
    SECURITY_WINDOW_GRACE_MS: z.coerce.number().int().min(0, 'expected 0 or more (milliseconds)').optional(),
    REMEDIATION_DRY_RUN: z
      .enum(['true', 'false'], { error: "expected 'true' or 'false'" })
      .transform((v) => v === 'true')
      .optional(),
    // how long a sink (Redis) may stay unavailable before the job gives up and exits non-zero
    SINK_MAX_OUTAGE_MS: z.coerce
      .number({ error: OUTAGE_FORM })
      .int(OUTAGE_FORM)
      .min(1, OUTAGE_FORM)
      .default(DEFAULT_SINK_MAX_OUTAGE_MS),
    // how long the Kafka brokers may stay unreachable before the job gives up and exits non-zero; within it
    // the job reconnects and resends (topology/runtime/internal/broker-outage.ts)
    BROKER_MAX_OUTAGE_MS: z.coerce
      .number({ error: OUTAGE_FORM })
      .int(OUTAGE_FORM)
      .min(1, OUTAGE_FORM)
      .default(DEFAULT_MAX_BROKER_OUTAGE_MS),
    FEATURE_TTL_MS: z.coerce
      .number()
      .int()
      .min(1_000, 'expected at least 1000 (milliseconds)')
      .default(48 * 3_600_000),
    // how far an event's time may be ahead of its record's log timestamp (processors/telemetry/validate.ts)
    MAX_EVENT_TIME_AHEAD_MS: z.coerce
      .number({ error: 'expected a whole number of milliseconds, e.g. 300000' })
      .int('expected a whole number of milliseconds, e.g. 300000')
      .min(0, 'expected 0 or more (milliseconds)')
      .default(5 * 60_000),
  })
  .superRefine((c, ctx) => {
    if (c.TRANSPORT === 'kafka' && c.KAFKA_BROKERS === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['KAFKA_BROKERS'],
        message: 'required when TRANSPORT=kafka: a comma-separated list of host:port',
      });
    }
  });

export type AppConfig = z.infer<typeof schema>;

/** Reads and validates the configuration; throws one ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // an empty variable means "not set", as in most shells' `VAR= cmd`
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'configuration');
    const got = present[name] === undefined ? 'not set' : `got '${present[name]}'`;
    return `  ${name}: ${issue.message} (${got})`;
  });
  throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}
