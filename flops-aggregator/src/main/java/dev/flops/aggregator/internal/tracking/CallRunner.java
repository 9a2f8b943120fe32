package dev.flops.aggregator.internal.tracking;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link Outbox.Call}s against a backend. A call names what it acts on within its session
 * ({@code experiment}, {@code run:parent}, {@code run:round-3}, {@code model:best}); the ids and
 * URIs the backend gives are bound under {@code <session>/<name>} in a map shared with the
 * {@link Tracker} (which reads the ids for its results and writes them into the outbox file, so
 * that a later process resolves the same names). A call whose prerequisite was never created is
 * {@link Outbox.Skipped}. Runs on the outbox's thread only.
 */
final class CallRunner implements Outbox.Runner {
  private static final Logger log = LoggerFactory.getLogger(CallRunner.class);
  static final String EXPERIMENT = "experiment";

  private final TrackingStore store;
  private final Map<String, String> bindings;

  CallRunner(TrackingStore store, Map<String, String> bindings) {
    this.store = store;
    this.bindings = bindings;
  }

  @Override
  public void run(Outbox.Call call) throws Exception {
    execute(call);
  }

  @Override
  public boolean isRetryable(Exception failure) {
    return store.isRetryable(failure);
  }

  @Override
  public boolean isCredentialFailure(Exception failure) {
    return store.isCredentialFailure(failure);
  }

  @Override
  public String uri() {
    return store.uri();
  }

  private static String key(Outbox.Call call, String name) {
    return call.session() + "/" + name;
  }

  private static Map<String, String> stringMap(JsonObject json) {
    Map<String, String> map = new LinkedHashMap<>();
    if (json != null) {
      json.entrySet().forEach(e -> map.put(e.getKey(), e.getValue().getAsString()));
    }
    return map;
  }

  private static List<TrackingStore.MetricPoint> metrics(JsonArray array) {
    List<TrackingStore.MetricPoint> metrics = new ArrayList<>();
    if (array != null) {
      for (JsonElement e : array) {
        JsonObject m = e.getAsJsonObject();
        metrics.add(new TrackingStore.MetricPoint(m.get("key").getAsString(),
            Double.parseDouble(m.get("value").getAsString()), m.get("timestamp").getAsLong(),
            m.get("step").getAsLong()));
      }
    }
    return metrics;
  }

  private String require(Outbox.Call call, String name, String what) {
    String value = bindings.get(key(call, name));
    if (value == null) {
      throw new Outbox.Skipped(what + " was never created");
    }
    return value;
  }

  private String requireRun(Outbox.Call call, String ref) {
    return require(call, "run:" + ref, "run '" + ref + "'");
  }

  private String requireExperiment(Outbox.Call call) {
    return require(call, EXPERIMENT, "the experiment");
  }

  private void execute(Outbox.Call call) throws Exception {
    JsonObject a = call.args();
    switch (call.kind()) {
      case "experiment" -> bindings.put(key(call, EXPERIMENT),
          store.experimentId(a.get("name").getAsString()));
      case "resume_run" -> {
        String ref = a.get("ref").getAsString();
        String runId = requireRun(call, ref);
        bindings.put(key(call, "artifacts:" + ref), store.artifactUri(requireExperiment(call), runId));
        store.setStatus(runId, TrackingStore.RunStatus.RUNNING, null);
      }
      case "create_run" -> {
        String ref = a.get("ref").getAsString();
        Map<String, String> tags = stringMap(a.getAsJsonObject("tags"));
        if (a.has("parent")) {
          tags.put("mlflow.parentRunId", requireRun(call, a.get("parent").getAsString()));
        }
        TrackingStore.CreatedRun run = store.createRun(requireExperiment(call),
            a.get("name").getAsString(), a.get("start").getAsLong(), tags);
        bindings.put(key(call, "artifacts:" + ref), run.artifactUri());
        bindings.put(key(call, "run:" + ref), run.runId());
      }
      case "log_batch" -> store.logBatch(requireRun(call, a.get("ref").getAsString()),
          metrics(a.getAsJsonArray("metrics")), stringMap(a.getAsJsonObject("params")),
          stringMap(a.getAsJsonObject("tags")));
      case "set_status" -> store.setStatus(requireRun(call, a.get("ref").getAsString()),
          TrackingStore.RunStatus.valueOf(a.get("status").getAsString()),
          a.has("end") ? a.get("end").getAsLong() : null);
      case "create_model" -> {
        String ref = a.get("model_ref").getAsString();
        TrackingStore.CreatedModel model = store.createLoggedModel(requireExperiment(call),
            a.get("name").getAsString(), requireRun(call, a.get("source").getAsString()),
            stringMap(a.getAsJsonObject("params")), stringMap(a.getAsJsonObject("tags")));
        bindings.put(key(call, "model_artifacts:" + ref), model.artifactUri());
        bindings.put(key(call, "model:" + ref), model.modelId());
      }
      case "upload_model" -> uploadModel(call);
      case "log_model_metrics" -> store.logModelMetrics(requireExperiment(call),
          require(call, "model:" + a.get("model_ref").getAsString(), "the logged model"),
          requireRun(call, a.get("ref").getAsString()), metrics(a.getAsJsonArray("metrics")));
      case "finalize_model" -> store.finalizeLoggedModel(requireExperiment(call),
          require(call, "model:" + a.get("model_ref").getAsString(), "the logged model"));
      case "log_outputs" -> store.logOutputs(requireRun(call, a.get("ref").getAsString()),
          require(call, "model:" + a.get("model_ref").getAsString(), "the logged model"),
          a.get("step").getAsLong());
      default -> throw new Outbox.Skipped("unknown tracking call kind '" + call.kind()
          + "' (written by a newer flops?)");
    }
  }

  /**
   * Uploads the model's files, with an MLmodel naming the run and the logged model, either into
   * the logged model's own artifacts (MLflow 3) or into a run's artifacts under {@code model/}
   * (MLflow 2's layout, with the run's {@code mlflow.log-model.history} tag).
   */
  private void uploadModel(Outbox.Call call) throws Exception {
    JsonObject a = call.args();
    ModelArtifacts artifacts = ModelArtifacts.fromJson(a.getAsJsonObject("model"));
    String modelRef = a.get("model_ref").getAsString();
    String modelId = require(call, "model:" + modelRef, "the logged model");
    boolean intoModel = a.get("target").getAsString().equals("model");
    String ref = a.get("ref").getAsString();
    String runId = requireRun(call, ref);
    String artifactUri;
    if (intoModel) {
      artifactUri = require(call, "model_artifacts:" + modelRef, "the logged model");
    } else {
      artifactUri = bindings.get(key(call, "artifacts:" + ref));
      if (artifactUri == null) {
        artifactUri = store.artifactUri(requireExperiment(call), runId);
        bindings.put(key(call, "artifacts:" + ref), artifactUri);
      }
    }
    Path dir = Files.createTempDirectory("flops-mlmodel-");
    try {
      ModelArtifacts.Logged logged = artifacts.describeFor(runId, modelId, dir);
      for (Path file : logged.files()) {
        store.logArtifact(runId, artifactUri, intoModel ? "" : ModelArtifacts.ARTIFACT_PATH, file);
      }
      if (!intoModel) {
        store.logBatch(runId, List.of(), Map.of(),
            Map.of("mlflow.log-model.history", logged.historyTag()));
      }
    } finally {
      deleteTree(dir);
    }
  }

  static void deleteTree(Path root) {
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      log.debug("could not delete {}: {}", root, e.toString());
    }
  }
}
