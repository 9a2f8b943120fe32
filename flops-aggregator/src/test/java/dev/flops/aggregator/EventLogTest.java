package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.flops.aggregator.tracking.EventLog;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JSON-lines event log follows its documented schema (docs/tracking.md, flops.events/1), and
 * a throwing observer beside it changes nothing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventLogTest {

  @TempDir
  Path temp;

  /** The fields of every event type, as docs/tracking.md lists them. */
  private static final Set<String> COMMON = Set.of("schema", "event", "time", "federation");
  private static final Map<String, Set<String>> FIELDS = Map.of(
      "training_started", Set.of("started_at", "rounds", "strategy"),
      "round_finished", Set.of("round", "fit_succeeded", "fit_failed", "evaluate_succeeded",
          "evaluate_failed", "loss", "accuracy", "evaluate_examples", "metrics", "duration_s",
          "learner_wait_s", "bytes_received", "bytes_sent", "process_cpu_s", "heap_used_bytes",
          "nonheap_used_bytes", "offheap_bytes", "failures", "fit_examples", "fit_metrics"),
      "training_succeeded", Set.of("rounds", "duration_s", "final", "best", "tracking"),
      "training_failed", Set.of("error", "message"));

  private static List<JsonObject> read(Path file) throws Exception {
    return Files.readAllLines(file).stream()
        .map(line -> JsonParser.parseString(line).getAsJsonObject()).toList();
  }

  private static void checkSchema(JsonObject line) {
    String event = line.get("event").getAsString();
    assertTrue(FIELDS.containsKey(event), "unknown event " + event);
    Set<String> expected = new java.util.HashSet<>(COMMON);
    expected.addAll(FIELDS.get(event));
    assertEquals(expected, line.keySet(), event);
    assertEquals(EventLog.SCHEMA, line.get("schema").getAsString());
    Instant.parse(line.get("time").getAsString());
  }

  @Test
  void succeededFederation_writesOneLinePerEvent_withTheDocumentedFields() throws Exception {
    Path file = temp.resolve("logs/events.jsonl");
    Parameters initial = Federations.randomParameters(31, false);
    TrainingResult result;
    try (EventLog log = EventLog.toFile(file, "demo");
        Aggregator aggregator = Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build()
            .start()) {
      TrainingPlan plan = TrainingPlan.builder().rounds(2)
          .tracking(Tracking.fileStore(temp.resolve("mlruns")))
          .observer(new ObserverTest.Throwing()).observer(log).build();
      FedAvg strategy = FedAvg.builder().build();
      var learner = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 7));
      result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
    }
    List<JsonObject> lines = read(file);
    assertEquals(List.of("training_started", "round_finished", "round_finished",
        "training_succeeded"), lines.stream().map(l -> l.get("event").getAsString()).toList());
    lines.forEach(EventLogTest::checkSchema);
    assertEquals("demo", lines.get(0).get("federation").getAsString());
    assertEquals(2, lines.get(0).get("rounds").getAsInt());
    JsonObject round1 = lines.get(1);
    assertEquals(1, round1.get("round").getAsInt());
    assertEquals(0.5, round1.get("accuracy").getAsDouble());
    assertEquals(1.0, round1.get("loss").getAsDouble());
    assertEquals(7, round1.get("evaluate_examples").getAsLong());
    assertTrue(round1.get("bytes_received").getAsLong() > 620 * 4, round1.toString());
    assertTrue(round1.get("bytes_sent").getAsLong() > 2 * 620 * 4, "fit and evaluate downloads");
    assertEquals(0, round1.getAsJsonArray("failures").size());
    JsonObject done = lines.get(3);
    assertEquals(1, done.getAsJsonObject("best").get("round").getAsInt());
    assertEquals(2, done.getAsJsonObject("final").get("round").getAsInt());
    JsonObject tracking = done.getAsJsonObject("tracking");
    assertEquals(result.trackingInfo().orElseThrow().experimentId(),
        tracking.get("experiment_id").getAsString());
    assertEquals(result.trackingInfo().orElseThrow().bestRoundRunId(),
        tracking.get("best_round_run_id").getAsString());
    assertTrue(Files.isDirectory(temp.resolve("mlruns")
        .resolve(tracking.get("experiment_id").getAsString())
        .resolve(tracking.get("best_round_run_id").getAsString()).resolve("artifacts/model")));
  }

  @Test
  void failedFederation_endsWithTrainingFailed_andNullForMissingNumbers() throws Exception {
    Path file = temp.resolve("events.jsonl");
    try (EventLog log = EventLog.toFile(file, "lonely");
        Aggregator aggregator = Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(new ArrayModel(Federations.randomParameters(32, false)))
            .build()
            .start()) {
      TrainingPlan plan = TrainingPlan.builder().minAvailableLearners(2)
          .learnerWait(Duration.ofMillis(200)).tracking(Tracking.off()).observer(log).build();
      FedAvg strategy = FedAvg.builder().build();
      assertThrows(TrainingException.class, () -> aggregator.train(plan, strategy));
    }
    List<JsonObject> lines = read(file);
    assertEquals(2, lines.size());
    lines.forEach(EventLogTest::checkSchema);
    JsonObject failed = lines.get(1);
    assertEquals("training_failed", failed.get("event").getAsString());
    assertEquals("java.util.concurrent.TimeoutException", failed.get("error").getAsString());
    assertTrue(failed.get("message").getAsString().contains("only 0 of the 2 learners"));
  }

  @Test
  void unwritableEventLog_failsAtOnceNamingTheFile() throws Exception {
    Path blocker = Files.writeString(temp.resolve("file"), "x");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EventLog.toFile(blocker.resolve("events.jsonl"), "x"));
    assertTrue(e.getMessage().contains(blocker.resolve("events.jsonl").toString()), e.getMessage());
  }
}
