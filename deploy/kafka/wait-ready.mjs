// Waits until a Kafka broker answers a metadata request: readiness by asking, not by sleeping.
// usage: node deploy/kafka/wait-ready.mjs <host:port> [timeout-seconds]
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [broker = '127.0.0.1:9092', timeoutArg = '120'] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const kafka = new Kafka({
  clientId: 'veroai-wait-ready',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
});

let lastError = 'no attempt';
while (Date.now() < deadline) {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    console.error(
      `kafka: ready at ${broker} (${cluster.brokers.length} broker, controller ${cluster.controller})`,
    );
    process.exit(0);
  } catch (error) {
    lastError = error instanceof Error ? error.message : String(error);
    await admin.disconnect().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
console.error(`kafka: ${broker} not ready after ${timeoutArg} s: ${lastError}`);
process.exit(1);
