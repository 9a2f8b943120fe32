package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.TrackingInfo;
import dev.flops.api.io.NamedTensorFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file store as MLflow 3 reads it: the best model is a logged model ({@code
 * <experiment>/models/m-<id>/} with the meta.yaml fields MLflow 3's FileStore writes, its params,
 * tags and metrics directories, its artifacts) and an output of the best round's run and of the
 * parent run ({@code <run>/outputs/<model id>/meta.yaml}), while MLflow 2 still finds it under
 * each run's {@code artifacts/model/}; system metrics named and stepped as MLflow's monitor does.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TrackingFileStoreTest {

  @TempDir
  Path dir;

  private static Map<String, String> yaml(Path file) throws IOException {
    Map<String, String> values = new LinkedHashMap<>();
    for (String line : Files.readAllLines(file)) {
      int colon = line.indexOf(": ");
      values.put(colon < 0 ? line.replace(":", "") : line.substring(0, colon),
          colon < 0 ? "" : line.substring(colon + 2));
    }
    return values;
  }

  private static List<String[]> metric(Path run, String key) throws IOException {
    Path file = run.resolve("metrics").resolve(key);
    List<String[]> lines = new ArrayList<>();
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        lines.add(line.split(" "));
      }
    }
    return lines;
  }

  private static Set<String> files(Path root) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile).map(p -> root.relativize(p).toString())
          .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
    }
  }

  @Test
  void bestModelIsAnMlflow3LoggedModel_andStaysInTheRunsArtifacts_systemMetricsOnATimer()
      throws Exception {
    Path mlruns = dir.resolve("mlruns");
    TrackingInfo info = TrackedTrainings.train(Tracking.fileStore(mlruns)
            .experimentName("file store models").outbox(dir.resolve("outbox"))
            .systemMetricsInterval(Duration.ofMillis(100)), 3, 61, new FederationObserver() {
              @Override
              public void onRoundFinished(dev.flops.api.RoundSummary summary) {
                // A warm JVM trains in a fraction of a second: make room for several samples.
                try {
                  Thread.sleep(250);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            })
        .trackingInfo().orElseThrow();
    assertEquals(List.of(), info.unsent());
    Path experiment = mlruns.resolve(info.experimentId());
    String bestRun = info.bestRoundRunId();

    List<Path> models;
    try (Stream<Path> list = Files.list(experiment.resolve("models"))) {
      models = list.toList();
    }
    assertEquals(1, models.size(), models.toString());
    Path model = models.get(0);
    String modelId = model.getFileName().toString();
    assertTrue(modelId.matches("m-[0-9a-f]{32}"), modelId);
    Map<String, String> meta = yaml(model.resolve("meta.yaml"));
    assertEquals(List.of("artifact_location", "creation_timestamp", "experiment_id",
        "last_updated_timestamp", "lifecycle_stage", "model_id", "model_type", "name",
        "source_run_id", "status", "status_message"), new ArrayList<>(meta.keySet()));
    assertEquals(modelId, meta.get("model_id"));
    assertEquals("'" + info.experimentId() + "'", meta.get("experiment_id"));
    assertEquals("2", meta.get("status"), "READY");
    assertEquals("active", meta.get("lifecycle_stage"));
    assertEquals(bestRun, meta.get("source_run_id"));
    assertEquals(experiment.resolve("models").resolve(modelId).resolve("artifacts").toUri()
        .toString().replaceAll("/$", ""), meta.get("artifact_location"));
    for (String sub : List.of("metrics", "params", "tags")) {
      assertTrue(Files.isDirectory(model.resolve(sub)), sub);
    }
    assertEquals("FedAvg", Files.readString(model.resolve("params/strategy")));
    String[] accuracy = Files.readString(model.resolve("metrics/accuracy")).split(" ");
    assertEquals(List.of("0.5", "1", bestRun + "\n"), List.of(accuracy).subList(1, 4),
        "timestamp value step run_id, as MLflow 3 writes a logged model's metric");
    assertEquals(Set.of("MLmodel", "java_env.yaml", "model.safetensors", "requirements.txt"),
        files(model.resolve("artifacts")));
    String mlmodel = Files.readString(model.resolve("artifacts/MLmodel"));
    assertTrue(mlmodel.contains("model_id: " + modelId + "\n")
        && mlmodel.contains("mlflow_version: ") && mlmodel.contains("run_id: " + bestRun + "\n"),
        mlmodel);

    // Outputs of the best round's run and of the parent run, at step = best round (1).
    for (String run : List.of(bestRun, info.parentRunId())) {
      Map<String, String> output = yaml(experiment.resolve(run).resolve("outputs")
          .resolve(modelId).resolve("meta.yaml"));
      assertEquals("1", output.get("step"), run);
      assertEquals(modelId, output.get("destination_id"));
      // MLflow 2: the model in the run's artifacts, its MLmodel naming the logged model too.
      Path artifacts = experiment.resolve(run).resolve("artifacts");
      assertEquals(Set.of("model/MLmodel", "model/java_env.yaml", "model/model.safetensors",
          "model/requirements.txt"), files(artifacts));
      String runMlmodel = Files.readString(artifacts.resolve("model/MLmodel"));
      assertTrue(runMlmodel.contains("run_id: " + run + "\n")
          && runMlmodel.contains("model_id: " + modelId + "\n"), runMlmodel);
    }

    // The model reads back with flops-api's public reader: round 1's parameters (initial + 1).
    Parameters logged = NamedTensorFile.read(model.resolve("artifacts/model.safetensors"));
    Parameters round1 = FakeTrainer.add(Federations.randomParameters(61, false), 1f);
    assertEquals(round1.names(), logged.names());
    for (dev.flops.api.Tensor expected : round1) {
      assertArrayEquals(expected.shape(), logged.get(expected.name()).shape());
      assertArrayEquals(expected.toFloatArray(), logged.get(expected.name()).toFloatArray(),
          1e-5f, expected.name());
    }

    // System metrics: MLflow's names, step = sample index; per-round figures say they are.
    Path parent = experiment.resolve(info.parentRunId());
    for (String key : List.of("system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes", "system/system_memory_usage_percentage",
        "system/disk_usage_megabytes", "system/network_receive_megabytes")) {
      List<String[]> samples = metric(parent, key);
      assertTrue(samples.size() >= 2, key + ": " + samples.size() + " samples");
      for (int i = 0; i < samples.size(); i++) {
        assertEquals(String.valueOf(i), samples.get(i)[2], key + " step");
      }
    }
    assertFalse(Files.exists(parent.resolve("metrics/system/process_cpu_seconds")));
    Path roundRun = experiment.resolve(bestRun);
    assertEquals(1, metric(roundRun, "round/process_cpu_seconds").size());
    assertEquals(1, metric(roundRun, "round/jvm_heap_used_megabytes_at_end").size());
  }
}
