package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.aggregator.tracking.TrackingOutbox;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tracking server that is down until after training ends: what was not delivered waits in the
 * outbox on disk, no run stays RUNNING once it is delivered (by the next aggregator tracking to
 * the same server, or by {@code AggregatorMain flush-tracking} in a process of its own), and
 * the end of training says "tracked" only when something was. Against {@link FakeMlflowServer}:
 * NOT a real MLflow server, none can be installed here (MLflow is a Python package and PyPI is
 * unreachable from this machine); the fake checks every request against MLflow's REST reference.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TrackingOutboxTest {

  @TempDir
  Path dir;

  private static TrainingResult train(Tracking tracking, int rounds, long seed,
      FederationObserver observer) throws Exception {
    return TrackedTrainings.train(tracking, rounds, seed, observer);
  }

  private static List<Path> outboxFiles(Path outbox) throws IOException {
    if (!Files.isDirectory(outbox)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(outbox)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".jsonl")).toList();
    }
  }

  private static String status(FakeMlflowServer server, String runId) {
    return server.runs.get(runId).getAsJsonObject("info").get("status").getAsString();
  }

  private static void assertNoRunLeftRunning(FakeMlflowServer server) {
    server.runs.forEach((id, run) -> {
      JsonObject info = run.getAsJsonObject("info");
      assertEquals("FINISHED", info.get("status").getAsString(), "run " + info);
      assertTrue(info.has("end_time"), "run " + id + " has an end time");
    });
  }

  @Test
  void serverDownFromRound2_callsKeptOnDisk_nextAggregatorDeliversThem_noRunLeftRunning()
      throws Exception {
    Path outbox = dir.resolve("outbox");
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      Tracking tracking = Tracking.server(server.uri()).experimentName("outage")
          .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(100))
          .flushTimeout(Duration.ofMillis(500))
          .outbox(outbox);
      TrainingResult first = train(tracking, 3, 41, new FederationObserver() {
        @Override
        public void onRoundFinished(RoundSummary summary) {
          if (summary.round() == 1) {
            TrackedTrainings.awaitRuns(server, 2); // the parent run and round 1 reached the server
            server.down = true; // and it stays down until after training ends
          }
        }
      });
      assertEquals(3, first.rounds().size(), "training completes");
      TrackingInfo info = first.trackingInfo().orElseThrow();
      assertTrue(info.tracked(), "the parent run was created before the outage");
      assertEquals(outbox.toString(), info.pendingOutbox().orElseThrow());
      assertTrue(info.unsent().stream().anyMatch(u -> u.contains("end the parent run")
          && u.contains("kept in the outbox")), info.unsent().toString());
      assertEquals(1, outboxFiles(outbox).size(), "one outbox file");
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(outboxFiles(outbox).get(0))), "it holds the model");
      assertEquals("RUNNING", status(server, info.parentRunId()), "not delivered yet");

      server.down = false; // the server is back; the next aggregator delivers the outbox first
      TrainingResult second = train(tracking.experimentName("after the outage")
          .flushTimeout(Duration.ofSeconds(20)), 1, 42,
          new FederationObserver() {});
      assertTrue(second.trackingInfo().orElseThrow().complete(),
          second.trackingInfo().orElseThrow().unsent().toString());
      assertEquals(List.of(), outboxFiles(outbox), "delivered files are deleted");
      assertEquals(List.of(), server.violations);
      assertEquals(4 + 2, server.runs.size(), "first: parent and 3 rounds; second: parent, 1");
      assertNoRunLeftRunning(server);
      String firstBest = info.bestRoundRunId(); // round 1: equal rounds, the first is best
      assertEquals(2, server.loggedModels.size(), "each training's best model");
      assertTrue(server.outputs.containsKey(info.parentRunId()), "the model is the parent's");
      assertTrue(server.outputs.containsKey(firstBest));
      server.loggedModels.values().forEach(m -> assertEquals("LOGGED_MODEL_READY",
          m.getAsJsonObject("info").get("status").getAsString()));
      assertTrue(server.artifacts.keySet().stream().anyMatch(
          k -> k.startsWith(info.experimentId() + "/" + info.parentRunId() + "/artifacts/model/")),
          "the first training's model reached its parent run's artifacts");
    }
  }

  @Test
  void serverDownForTheWholeTraining_processSaysNotTracked_flushCommandDeliversLater()
      throws Exception {
    Path outbox = dir.resolve("outbox");
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.down = true;
      String trained;
      String output;
      try (ChildJvm training = ChildJvm.start("tracked-training", List.of(),
          TrackedTrainingMain.class, dir.resolve("training.log"), "--tracking-uri", server.uri(),
          "--outbox", outbox.toString(), "--flush-ms", "500")) {
        trained = training.awaitLine(l -> l.startsWith("TRACKED"), Duration.ofSeconds(60));
        assertEquals(0, training.awaitExit(Duration.ofSeconds(30)));
        output = training.output();
      }
      assertTrue(trained.startsWith("TRACKED false " + outbox + " "), trained);
      assertFalse(output.contains("tracked in MLflow"), "nothing was tracked:\n" + output);
      assertTrue(output.contains("not tracked yet") && output.contains("flush-tracking"),
          "says how to deliver the calls:\n" + output);
      assertTrue(server.runs.isEmpty());
      assertEquals(1, outboxFiles(outbox).size());

      server.down = false;
      try (ChildJvm flush = ChildJvm.start("flush-tracking", List.of(), AggregatorMain.class,
          dir.resolve("flush.log"), "flush-tracking", "--outbox", outbox.toString(),
          "--tracking-uri", server.uri(), "--timeout", "20")) {
        assertEquals(0, flush.awaitExit(Duration.ofSeconds(60)), flush.output());
        assertTrue(flush.output().contains("0 still wait"), flush.output());
      }
      assertEquals(List.of(), server.violations);
      assertEquals(4, server.runs.size(), "the parent run and 3 rounds, delivered late");
      assertNoRunLeftRunning(server);
      assertEquals(1, server.loggedModels.size());
      assertEquals(List.of(), outboxFiles(outbox));
    }
  }

  @Test
  void flushWhileTheServerIsStillDown_callsStayInTheOutbox() throws Exception {
    Path outbox = dir.resolve("outbox");
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.down = true;
      Tracking tracking = Tracking.server(server.uri()).outbox(outbox)
          .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(50))
          .flushTimeout(Duration.ofMillis(300));
      TrackingInfo info = train(tracking, 1, 43, new FederationObserver() {})
          .trackingInfo().orElseThrow();
      assertFalse(info.tracked());
      int waiting = info.unsent().size();
      assertTrue(waiting > 5, info.unsent().toString());

      TrackingOutbox.Result stillDown = TrackingOutbox.flush(tracking, Duration.ofMillis(200));
      assertEquals(waiting, stillDown.pending(), "nothing lost while the server is down");
      assertEquals(0, stillDown.delivered());
      assertEquals(1, outboxFiles(outbox).size(), "the old file replaced by the new one");

      server.down = false;
      TrackingOutbox.Result back = TrackingOutbox.flush(tracking, Duration.ofSeconds(20));
      assertEquals(0, back.pending());
      assertEquals(waiting, back.delivered());
      assertEquals(List.of(), outboxFiles(outbox));
      assertNoRunLeftRunning(server);
      assertEquals(List.of(), server.violations);
    }
  }

  @Test
  void refusedCalls_notRetried_noFalseRateLimitWarnings() throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer();
        LogCapture capture = new LogCapture()) {
      server.statusFor.put("/api/2.0/mlflow/runs/log-batch", 400);
      TrackingInfo info = train(Tracking.server(server.uri()).experimentName("brand new")
          .outbox(dir.resolve("outbox")).systemMetricsInterval(Duration.ZERO), 1, 44,
          new FederationObserver() {}).trackingInfo().orElseThrow();
      String logs = capture.text();

      // A new experiment: one lookup answered 404, then one create; neither repeated.
      assertEquals(1, server.requests("/api/2.0/mlflow/experiments/get-by-name").size());
      assertEquals(1, server.requests("/api/2.0/mlflow/experiments/create").size());
      List<String> batches = server.requests("/api/2.0/mlflow/runs/log-batch").stream()
          .map(r -> r.body().toString()).toList();
      assertEquals(batches.size(), batches.stream().distinct().count(),
          "a refused (400) call is sent once, never retried: " + batches);
      assertFalse(logs.contains("Rate limit"), logs);
      assertFalse(logs.contains("is failing"), "4xx is not an outage:\n" + logs);
      assertTrue(info.unsent().stream().allMatch(u -> u.contains("refused: HttpError")
          && u.contains("HTTP 400 INVALID_PARAMETER_VALUE")), info.unsent().toString());
      assertEquals(batches.size(), info.unsent().size());
      assertFalse(info.pendingOutbox().isPresent(), "refused calls are not kept for a retry");
      assertEquals("FINISHED", status(server, info.parentRunId()));
    }
  }

  @Test
  void flushCommand_badOptions_failWithWhatToGive() throws Exception {
    try (LogCapture capture = new LogCapture()) {
      assertEquals(2, FlushTrackingCommand.run(new String[] {"--outbox", dir.toString()},
          Map.of()));
      assertEquals(2, FlushTrackingCommand.run(new String[] {"--tracking-uri",
          "sqlite:///mlflow.db"}, Map.of()));
      assertEquals(2, FlushTrackingCommand.run(new String[] {"--timeout", "-1"},
          Map.of("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")));
      String err = capture.text();
      assertTrue(err.contains("no tracking URI: give --tracking-uri URI"), err);
      assertTrue(err.contains("unsupported tracking URI scheme 'sqlite'"), err);
      assertTrue(err.contains("--timeout must be 0 or more seconds but was -1"), err);
    }
    // Nothing waiting is not an error.
    assertEquals(0, FlushTrackingCommand.run(new String[] {"--outbox",
        dir.resolve("empty").toString(), "--timeout", "0"},
        Map.of("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")));
  }

  @Test
  void aggregatorKilledDuringAnOutage_pendingCallsWereOnDisk_roundsItRanAreDeliveredLater()
      throws Exception {
    Path outbox = dir.resolve("outbox");
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.down = true;
      try (ChildJvm training = ChildJvm.start("killed-training", List.of(),
          TrackedTrainingMain.class, dir.resolve("killed.log"), "--tracking-uri", server.uri(),
          "--outbox", outbox.toString(), "--rounds", "50", "--round-pause-ms", "150")) {
        training.awaitLine(l -> l.equals("ROUND 3"), Duration.ofSeconds(60));
        Thread.sleep(600); // a few backoffs (at most 200 ms each): round 3 reaches the journal
        training.kill(); // SIGKILL: no shutdown hook, no end of training
      }
      assertEquals(1, outboxFiles(outbox).size(), "the journal of the killed aggregator");

      server.down = false;
      TrackingOutbox.Result result = TrackingOutbox.flush(Tracking.server(server.uri())
          .outbox(outbox), Duration.ofSeconds(20));
      assertEquals(0, result.pending());
      assertEquals(List.of(), result.refused());
      assertEquals(List.of(), outboxFiles(outbox));
      assertEquals(List.of(), server.violations);
      for (int round = 1; round <= 3; round++) {
        String name = "round " + round;
        JsonObject run = server.runs.values().stream().filter(r -> r.getAsJsonObject("info")
            .get("run_name").getAsString().equals(name)).findFirst().orElseThrow();
        assertEquals("FINISHED", run.getAsJsonObject("info").get("status").getAsString(), name);
      }
    }
  }
}
