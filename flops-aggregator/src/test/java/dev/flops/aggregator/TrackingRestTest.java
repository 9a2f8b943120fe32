package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tracking to a tracking server over REST (mlflow-client for the tracking API, the artifact proxy
 * for the model), against {@link FakeMlflowServer}: NOT a real MLflow server, because none can be
 * installed here (MLflow is a Python package; PyPI is unreachable from this machine). The fake
 * checks every request against MLflow's REST API reference.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class TrackingRestTest {

  private static TrainingResult train(FakeMlflowServer server, Tracking tracking, int learners)
      throws Exception {
    Parameters initial = Federations.randomParameters(21, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(3).minAvailableLearners(learners)
        .tracking(tracking).build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> dev.flops.api.Config.of("local_epochs", 2)).build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      List<CompletableFuture<Void>> running = new ArrayList<>();
      for (int i = 0; i < learners; i++) {
        running.add(Federations.startLearner("l" + i, aggregator.port(),
            FakeTrainer.adding(initial, 1f, 10)));
      }
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : running) {
        learner.get(30, TimeUnit.SECONDS);
      }
      return result;
    }
  }

  private static Map<String, String> keyValues(JsonObject run, String list) {
    Map<String, String> values = new HashMap<>();
    for (JsonElement e : run.getAsJsonObject("data").getAsJsonArray(list)) {
      values.put(e.getAsJsonObject().get("key").getAsString(),
          e.getAsJsonObject().get("value").getAsString());
    }
    return values;
  }

  private static List<Double> metric(JsonObject run, String key) {
    return metric(run.getAsJsonObject("data").getAsJsonArray("metrics"), key);
  }

  private static List<Double> metric(com.google.gson.JsonArray metrics, String key) {
    List<Double> values = new ArrayList<>();
    for (JsonElement e : metrics) {
      if (e.getAsJsonObject().get("key").getAsString().equals(key)) {
        values.add(e.getAsJsonObject().get("value").getAsDouble());
      }
    }
    return values;
  }

  @Test
  void federationTrackedOverRest_everyRequestFollowsTheApi_modelOnlyInBestRoundAndParent()
      throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      TrainingResult result = train(server,
          Tracking.server(server.uri()).experimentName("rest federation"), 2);

      assertEquals(List.of(), server.violations, "requests that break MLflow's REST API");
      TrackingInfo info = result.trackingInfo().orElseThrow();
      assertEquals(List.of(), info.unsent());
      assertEquals(server.uri(), info.trackingUri());
      assertEquals(server.experimentsByName.get("rest federation"), info.experimentId());
      assertEquals(1, server.requests("/api/2.0/mlflow/experiments/create").size());
      assertEquals(4, server.runs.size(), "a parent run and one run per round");

      JsonObject parent = server.runs.get(info.parentRunId());
      assertEquals("FINISHED", parent.getAsJsonObject("info").get("status").getAsString());
      assertTrue(parent.getAsJsonObject("info").has("end_time"));
      Map<String, String> parentParams = keyValues(parent, "params");
      assertEquals("FedAvg", parentParams.get("strategy"));
      assertEquals("3", parentParams.get("rounds"));
      assertEquals("2", parentParams.get("min_available_learners"));
      assertEquals("2", parentParams.get("local_epochs"));
      assertEquals(List.of(0.5, 0.5, 0.5), metric(parent, "accuracy"));
      assertEquals(List.of(1.0), metric(parent, "best_round"), "equal rounds: the first is best");
      assertEquals(List.of(0.5), metric(parent, "best_accuracy"));
      assertEquals(3, metric(parent, "bytes_sent").size());
      assertTrue(metric(parent, "bytes_received").stream().allMatch(b -> b > 2 * 620 * 4),
          "two updates of 620 floats each round: " + metric(parent, "bytes_received"));

      for (JsonObject run : server.runs.values()) {
        if (run == parent) {
          continue;
        }
        Map<String, String> tags = keyValues(run, "tags");
        assertEquals(info.parentRunId(), tags.get("mlflow.parentRunId"));
        String name = tags.get("mlflow.runName");
        assertTrue(name.matches("round [123]"), name);
        assertEquals(name, run.getAsJsonObject("info").get("run_name").getAsString());
        assertEquals("FINISHED", run.getAsJsonObject("info").get("status").getAsString());
        assertEquals(List.of(2.0), metric(run, "fit_learners"));
        assertEquals(List.of(0.0), metric(run, "failed_learners"));
        assertEquals(1, metric(run, "round/process_cpu_seconds").size());
        assertEquals(1, metric(run, "round/jvm_heap_used_megabytes_at_end").size());
        assertEquals(1, metric(run, "round/offheap_megabytes_at_end").size());
        assertEquals(List.of(), metric(run, "system/process_cpu_seconds"), "renamed");
      }

      // The best round (round 1) and the parent hold the model; rounds 2 and 3 hold nothing.
      String bestRun = info.bestRoundRunId();
      assertEquals("round 1", keyValues(server.runs.get(bestRun), "tags").get("mlflow.runName"));
      for (String file : List.of("model.safetensors", "MLmodel", "requirements.txt",
          "java_env.yaml")) {
        for (String run : List.of(bestRun, info.parentRunId())) {
          String path = info.experimentId() + "/" + run + "/artifacts/model/" + file;
          assertTrue(server.artifacts.containsKey(path), "missing artifact " + path
              + " in " + server.artifacts.keySet());
        }
      }
      // MLflow 3: one logged model, READY, produced by the best round's run, an output of that
      // run and of the parent run at step = best round, its files in its own artifacts.
      assertEquals(1, server.loggedModels.size(), server.loggedModels.toString());
      JsonObject model = server.loggedModels.values().iterator().next().getAsJsonObject("info");
      String modelId = model.get("model_id").getAsString();
      assertTrue(modelId.matches("m-[0-9a-f]{32}"), modelId);
      assertEquals("LOGGED_MODEL_READY", model.get("status").getAsString());
      assertEquals(bestRun, model.get("source_run_id").getAsString());
      for (String run : List.of(bestRun, info.parentRunId())) {
        assertEquals(1, server.outputs.get(run).size(), run);
        assertEquals(modelId, server.outputs.get(run).get(0).get("model_id").getAsString());
        assertEquals(1, server.outputs.get(run).get(0).get("step").getAsLong());
      }
      for (String file : List.of("model.safetensors", "MLmodel", "requirements.txt",
          "java_env.yaml")) {
        String path = info.experimentId() + "/models/" + modelId + "/artifacts/" + file;
        assertTrue(server.artifacts.containsKey(path), "missing " + path);
      }
      String modelMlmodel = new String(server.artifacts.get(info.experimentId() + "/models/"
          + modelId + "/artifacts/MLmodel"), StandardCharsets.UTF_8);
      assertTrue(modelMlmodel.contains("model_id: " + modelId), modelMlmodel);
      assertTrue(modelMlmodel.contains("mlflow_version: "), modelMlmodel);
      assertTrue(new String(server.artifacts.get(info.experimentId() + "/" + info.parentRunId()
          + "/artifacts/model/MLmodel"), StandardCharsets.UTF_8).contains("model_id: " + modelId));
      assertEquals(12, server.artifacts.size(), server.artifacts.keySet().toString());
      // The best round's evaluation metrics are linked to the model (the Models tab's columns);
      // the round's own history keeps one point each.
      JsonObject modelData = server.loggedModels.get(modelId).getAsJsonObject("data");
      assertEquals(List.of(0.5), metric(modelData.getAsJsonArray("metrics"), "accuracy"));
      assertEquals(List.of(0.5), metric(server.runs.get(bestRun), "accuracy"));
      assertTrue(new String(server.artifacts.get(info.experimentId() + "/" + bestRun
          + "/artifacts/model/MLmodel"), StandardCharsets.UTF_8).contains("run_id: " + bestRun));
      assertTrue(keyValues(server.runs.get(bestRun), "tags")
          .containsKey("mlflow.log-model.history"));

      // The model file holds round 1's global parameters (initial + 1), not the final ones.
      Parameters initial = Federations.randomParameters(21, false);
      Parameters round1 = FakeTrainer.add(initial, 1f);
      byte[] safetensors = server.artifacts.get(info.experimentId() + "/" + bestRun
          + "/artifacts/model/model.safetensors");
      Parameters logged = readSafetensors(safetensors);
      assertEquals(round1.names(), logged.names());
      for (Tensor expected : round1) {
        assertArrayEquals(expected.toFloatArray(), logged.get(expected.name()).toFloatArray(),
            1e-5f, expected.name());
      }
    }
  }

  /** A minimal reader of the safetensors layout, independent of the writer. */
  static Parameters readSafetensors(byte[] file) {
    ByteBuffer buffer = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = buffer.getLong();
    assertEquals(0, (8 + headerLength) % 8, "header padded to 8 bytes");
    JsonObject header = JsonParser.parseString(
        new String(file, 8, (int) headerLength, StandardCharsets.UTF_8)).getAsJsonObject();
    List<Tensor> tensors = new ArrayList<>();
    int dataStart = 8 + (int) headerLength;
    for (String name : header.keySet()) {
      if (name.equals("__metadata__")) {
        continue;
      }
      JsonObject entry = header.getAsJsonObject(name);
      assertEquals("F32", entry.get("dtype").getAsString());
      long[] shape = new long[entry.getAsJsonArray("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = entry.getAsJsonArray("shape").get(i).getAsLong();
      }
      int begin = entry.getAsJsonArray("data_offsets").get(0).getAsInt();
      int end = entry.getAsJsonArray("data_offsets").get(1).getAsInt();
      float[] values = new float[(end - begin) / 4];
      ByteBuffer data = ByteBuffer.wrap(file, dataStart + begin, end - begin)
          .order(ByteOrder.LITTLE_ENDIAN);
      data.asFloatBuffer().get(values);
      tensors.add(Tensor.ofFloats(name, shape, values));
    }
    assertEquals(file.length, dataStart + tensors.stream().mapToLong(Tensor::byteSize).sum());
    return new Parameters(tensors);
  }

  @Test
  void serverFailingThenRecovering_trainingCompletes_warnsOnce_everythingSentInTheEnd()
      throws Exception {
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      server.failNext.set(6);
      TrainingResult result;
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        result = train(server, Tracking.server(server.uri())
            .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(100)), 1);
      } finally {
        System.setErr(stderr);
      }
      String log = captured.toString(StandardCharsets.UTF_8);
      assertEquals(3, result.rounds().size());
      assertEquals(1, log.split("is failing", -1).length - 1, "one warning:\n" + log);
      TrackingInfo info = result.trackingInfo().orElseThrow();
      assertEquals(List.of(), info.unsent(), "retried until sent");
      assertEquals(4, server.runs.size());
      assertEquals(List.of(), server.violations);
    }
  }

  @Test
  void serverGoneMidTraining_trainingCompletes_unsentCallsReportedAtTheEnd(@TempDir Path outbox)
      throws Exception {
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      Parameters initial = Federations.randomParameters(22, false);
      TrainingPlan plan = TrainingPlan.builder().rounds(3)
          .tracking(Tracking.server(server.uri())
              .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
              .flushTimeout(Duration.ofSeconds(1))
              .outbox(outbox))
          .observer(new dev.flops.api.FederationObserver() {
            @Override
            public void onRoundFinished(dev.flops.api.RoundSummary summary) {
              if (summary.round() == 1) {
                awaitRuns(server, 2); // the parent and round 1 reached the server
                server.down = true; // then it fails for the rest of the training
              }
            }
          })
          .build();
      FedAvg strategy = FedAvg.builder().build();
      TrainingResult result;
      try (Aggregator aggregator = Aggregator.builder()
          .host("127.0.0.1").port(0)
          .model(new ArrayModel(initial))
          .build()
          .start()) {
        CompletableFuture<Void> learner = Federations.startLearner("one", aggregator.port(),
            FakeTrainer.adding(initial, 1f, 5));
        result = aggregator.train(plan, strategy);
        aggregator.shutdownLearners();
        learner.get(30, TimeUnit.SECONDS);
      }
      assertEquals(3, result.rounds().size(), "training completes");
      assertEquals(3, result.finalRound().round());
      TrackingInfo info = result.trackingInfo().orElseThrow();
      assertFalse(info.complete());
      assertTrue(info.unsent().stream().anyMatch(u -> u.contains("end the parent run")
          && u.contains("kept in the outbox")), info.unsent().toString());
      assertEquals(outbox.toString(), info.pendingOutbox().orElseThrow());
      assertTrue(info.unsent().stream().anyMatch(u -> u.contains("round 3")),
          info.unsent().toString());
      assertNotNull(info.parentRunId(), "created before the server went away");
      assertEquals(List.of(), server.violations);
    }
  }

  @Test
  void nonFiniteReportedMetric_isRefusedOnArrival_neverReachesMlflow() throws Exception {
    // An Infinity accuracy once became the round's accuracy and the best round, and MLflow then
    // refused the best model's metrics. Now the learner's own result refuses it.
    try (FakeMlflowServer server = new FakeMlflowServer()) {
      Parameters initial = Federations.randomParameters(23, false);
      TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
          .tracking(Tracking.server(server.uri())).build();
      FedAvg strategy = FedAvg.builder().build();
      try (Aggregator aggregator = Aggregator.builder()
          .host("127.0.0.1").port(0)
          .model(new ArrayModel(initial))
          .build()
          .start()) {
        List<CompletableFuture<Void>> learners = List.of(
            Federations.startLearner("finite", aggregator.port(),
                new FakeTrainer(initial, 5, p -> p, 0.25, 0.75)),
            Federations.startLearner("infinite", aggregator.port(),
                new FakeTrainer(initial, 5, p -> p, 0.25, Double.POSITIVE_INFINITY)));
        TrainingResult result = aggregator.train(plan, strategy);
        aggregator.shutdownLearners();
        assertEquals(0.75, result.finalRound().accuracy(), 1e-12);
        for (CompletableFuture<Void> learner : learners) {
          learner.get(30, TimeUnit.SECONDS);
        }
      }
      assertEquals(List.of(), server.violations);
      List<String> batches = server.requests("/api/2.0/mlflow/runs/log-batch").stream()
          .map(r -> r.body().toString()).toList();
      assertTrue(batches.stream().anyMatch(b -> b.contains("\"key\":\"accuracy\",\"value\":0.75")),
          batches.toString());
      assertFalse(batches.stream().anyMatch(b -> b.contains("Infinity") || b.contains("NaN")),
          batches.toString());
    }
  }

  private static void awaitRuns(FakeMlflowServer server, int runs) {
    TrackedTrainings.awaitRuns(server, runs);
  }
}
