package ai.vero.bench;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.WindowedSerdes;

/**
 * The session-count bench's topology on Kafka Streams, with its defaults (one
 * stream thread, RocksDB stores, the 10 MB record cache) but the commit
 * interval, which the bench sets as the engine's (time to zero lag is read
 * from commits): groupByKey, session windows, count,
 * suppress(untilWindowCloses), toStream, to(output).
 *
 * Arguments: brokers input output applicationId guarantee gapMs graceMs stateDir commitIntervalMs.
 * Prints JSON lines on stdout: {"kind":"starting","pid":..,"at":..} before
 * start(), {"kind":"failed","message":..} on a fatal error, and on SIGTERM
 * (a clean close) {"kind":"stopped","result":{..}} with the records produced per
 * topic and the records dropped as late.
 */
public final class SessionCount {
  public static void main(String[] args) throws InterruptedException {
    if (args.length != 9) {
      System.err.println("usage: SessionCount brokers input output applicationId at_least_once|exactly_once gapMs graceMs stateDir commitIntervalMs");
      System.exit(2);
    }
    String brokers = args[0], input = args[1], output = args[2], applicationId = args[3], guarantee = args[4];
    long gapMs = Long.parseLong(args[5]), graceMs = Long.parseLong(args[6]);
    String stateDir = args[7];
    long commitIntervalMs = Long.parseLong(args[8]);

    Properties config = new Properties();
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    config.put(
        StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        guarantee.equals("exactly_once") ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(gapMs), Duration.ofMillis(graceMs)))
        .count(Materialized.as("session-counts"))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .to(output, Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), Serdes.Long()));

    KafkaStreams streams = new KafkaStreams(builder.build(), config);
    CountDownLatch closed = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(error -> {
      System.out.println("{\"kind\":\"failed\",\"message\":" + quote(String.valueOf(error)) + "}");
      System.out.flush();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      String result = result(streams.metrics());
      streams.close(Duration.ofSeconds(60));
      System.out.println("{\"kind\":\"stopped\",\"result\":" + result + "}");
      System.out.flush();
      closed.countDown();
    }));
    System.out.println("{\"kind\":\"starting\",\"pid\":" + ProcessHandle.current().pid() + ",\"at\":" + System.currentTimeMillis() + "}");
    System.out.flush();
    streams.start();
    closed.await();
  }

  /** Records produced per topic (producer-topic-metrics) and records dropped as late (task-level dropped-records). */
  private static String result(Map<MetricName, ? extends Metric> metrics) {
    Map<String, Double> produced = new TreeMap<>();
    double dropped = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
      MetricName name = e.getKey();
      Object value = e.getValue().metricValue();
      if (!(value instanceof Double)) continue;
      if (name.group().equals("producer-topic-metrics") && name.name().equals("record-send-total"))
        produced.merge(name.tags().get("topic"), (Double) value, Double::sum);
      if (name.group().equals("stream-task-metrics") && name.name().equals("dropped-records-total"))
        dropped += (Double) value;
    }
    StringBuilder out = new StringBuilder("{\"late\":").append((long) dropped).append(",\"produced\":{");
    String separator = "";
    for (Map.Entry<String, Double> e : produced.entrySet()) {
      out.append(separator).append(quote(e.getKey())).append(':').append(e.getValue().longValue());
      separator = ",";
    }
    return out.append("}}").toString();
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
