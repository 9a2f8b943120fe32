package dev.flops.aggregator.internal.tracking;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * MLflow's file store, written exactly as MLflow's {@code FileStore} writes it, so that {@code
 * mlflow ui --backend-store-uri DIR} reads it:
 *
 * <pre>
 * DIR/.trash/
 * DIR/0/meta.yaml                       the "Default" experiment, as MLflow creates it
 * DIR/&lt;experiment_id&gt;/meta.yaml         artifact_location, creation_time, experiment_id,
 *                                       last_update_time, lifecycle_stage, name
 * DIR/&lt;experiment_id&gt;/&lt;run_id&gt;/meta.yaml  artifact_uri, deleted_time, end_time, entry_point_name,
 *                                       experiment_id, lifecycle_stage, run_id, run_name, run_uuid,
 *                                       source_name, source_type, source_version, start_time,
 *                                       status, tags, user_id
 *   metrics/&lt;key&gt;     one line per value: "&lt;timestamp_ms&gt; &lt;value&gt; &lt;step&gt;"
 *   params/&lt;key&gt;      the value, no newline
 *   tags/&lt;key&gt;        the value, no newline
 *   artifacts/
 *   outputs/&lt;model_id&gt;/meta.yaml  MLflow 3's run output: destination_id, destination_type,
 *                                       source_id, source_type, step
 * DIR/&lt;experiment_id&gt;/models/&lt;model_id&gt;/  an MLflow 3 logged model ({@code m-<32 hex>}):
 *   meta.yaml  artifact_location, creation_timestamp, experiment_id, last_updated_timestamp,
 *              lifecycle_stage, model_id, model_type, name, source_run_id, status (1 PENDING,
 *              2 READY), status_message
 *   metrics/&lt;key&gt;  one line per value: "&lt;timestamp_ms&gt; &lt;value&gt; &lt;step&gt; &lt;run_id&gt;"
 *   params/ tags/   as a run's
 *   artifacts/               the model's files (MLmodel, the model file, ...)
 * </pre>
 *
 * Experiment ids are 18-digit random integers and run ids 32 hex digits, as MLflow makes them.
 */
final class FileStore implements TrackingStore {
  private static final String META = "meta.yaml";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String MODELS = "models";
  /** MLflow's LoggedModelStatus numbers, as its file store writes them. */
  private static final int MODEL_PENDING = 1;
  private static final int MODEL_READY = 2;

  private final Path root;
  private final String user;
  private final Map<String, String> runExperiments = new ConcurrentHashMap<>();

  /**
   * Opens (creating if needed) a store and checks that it is writable.
   *
   * @throws IllegalArgumentException naming the directory and what to do, if it cannot be used
   */
  FileStore(Path root, String user) {
    this.root = root.toAbsolutePath().normalize();
    this.user = user;
    try {
      boolean fresh = !Files.exists(this.root);
      Files.createDirectories(this.root);
      Path probe = Files.createTempFile(this.root, ".flops-write-check", ".tmp");
      Files.delete(probe);
      Files.createDirectories(this.root.resolve(".trash"));
      if (fresh || !Files.exists(this.root.resolve("0").resolve(META)) && experimentDirs().isEmpty()) {
        writeExperiment("0", "Default", System.currentTimeMillis());
      }
    } catch (IOException | UncheckedIOException e) {
      throw new IllegalArgumentException(String.format(
          "the MLflow file store directory %s cannot be used: %s; choose a writable directory "
              + "(Tracking.fileStore(dir), --tracking-uri DIR) or turn tracking off",
          this.root, describe(e)), e);
    }
  }

  private static String describe(Exception e) {
    Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
    if (cause instanceof FileAlreadyExistsException f) {
      return "a file is in the way: " + f.getFile();
    }
    return cause.getClass().getSimpleName() + ": " + cause.getMessage();
  }

  Path root() {
    return root;
  }

  @Override
  public String uri() {
    return fileUri(root);
  }

  /** MLflow's path_to_local_file_uri: file:///abs/path without a trailing slash. */
  static String fileUri(Path path) {
    String uri = path.toAbsolutePath().normalize().toUri().toString();
    return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
  }

  @Override
  public synchronized String experimentId(String name) throws IOException {
    for (Path dir : experimentDirs()) {
      Map<String, Object> meta = readMeta(dir);
      if (name.equals(meta.get("name")) && "active".equals(meta.get("lifecycle_stage"))) {
        return String.valueOf(meta.get("experiment_id"));
      }
    }
    String id;
    do {
      id = newExperimentId();
    } while (Files.exists(root.resolve(id)));
    writeExperiment(id, name, System.currentTimeMillis());
    return id;
  }

  /** MLflow's _generate_unique_integer_id: 18 digits, no leading zero. */
  private static String newExperimentId() {
    StringBuilder id = new StringBuilder().append(1 + RANDOM.nextInt(9));
    for (int i = 1; i < 18; i++) {
      id.append(RANDOM.nextInt(10));
    }
    return id.toString();
  }

  private void writeExperiment(String id, String name, long now) throws IOException {
    Path dir = Files.createDirectories(root.resolve(id));
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("artifact_location", fileUri(dir));
    meta.put("creation_time", now);
    meta.put("experiment_id", id);
    meta.put("last_update_time", now);
    meta.put("lifecycle_stage", "active");
    meta.put("name", name);
    writeAtomically(dir.resolve(META), Yaml.dump(meta));
  }

  private List<Path> experimentDirs() throws IOException {
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root,
        p -> Files.isDirectory(p) && !p.getFileName().toString().equals(".trash")
            && !p.getFileName().toString().equals("models")
            && Files.exists(p.resolve(META)))) {
      List<Path> list = new java.util.ArrayList<>();
      dirs.forEach(list::add);
      list.sort(null);
      return list;
    }
  }

  @Override
  public synchronized CreatedRun createRun(String experimentId, String runName, long startTimeMs,
      Map<String, String> tags) throws IOException {
    Path experiment = root.resolve(experimentId);
    Map<String, Object> experimentMeta = readMeta(experiment);
    String runId = UUID.randomUUID().toString().replace("-", "");
    Path run = Files.createDirectory(experiment.resolve(runId));
    String artifactUri = experimentMeta.get("artifact_location") + "/" + runId + "/artifacts";
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("artifact_uri", artifactUri);
    meta.put("deleted_time", null);
    meta.put("end_time", null);
    meta.put("entry_point_name", "");
    meta.put("experiment_id", experimentId);
    meta.put("lifecycle_stage", "active");
    meta.put("run_id", runId);
    meta.put("run_name", runName);
    meta.put("run_uuid", runId);
    meta.put("source_name", "");
    meta.put("source_type", 4);
    meta.put("source_version", "");
    meta.put("start_time", startTimeMs);
    meta.put("status", RunStatus.RUNNING.number);
    meta.put("tags", List.of());
    meta.put("user_id", user);
    writeAtomically(run.resolve(META), Yaml.dump(meta));
    Files.createDirectories(run.resolve("metrics"));
    Files.createDirectories(run.resolve("params"));
    Files.createDirectories(run.resolve("artifacts"));
    runExperiments.put(runId, experimentId);
    logBatch(runId, List.of(), Map.of(), tags);
    return new CreatedRun(runId, artifactUri);
  }

  @Override
  public synchronized String artifactUri(String experimentId, String runId) throws IOException {
    Path run = root.resolve(experimentId).resolve(runId);
    if (!Files.exists(run.resolve(META))) {
      throw new IllegalStateException("no run " + runId + " in experiment " + experimentId
          + " under " + root);
    }
    runExperiments.put(runId, experimentId);
    return String.valueOf(readMeta(run).get("artifact_uri"));
  }

  @Override
  public synchronized void logBatch(String runId, List<MetricPoint> metrics,
      Map<String, String> params, Map<String, String> tags) throws IOException {
    Path run = runDir(runId);
    for (Map.Entry<String, String> param : params.entrySet()) {
      Path file = run.resolve("params").resolve(param.getKey());
      if (Files.exists(file)) {
        String current = Files.readString(file, StandardCharsets.UTF_8);
        if (!current.equals(param.getValue())) {
          throw new IllegalArgumentException(String.format(
              "Changing param values is not allowed. Param with key='%s' was already logged with "
                  + "value='%s' for run ID='%s'. Attempted logging new value '%s'.",
              param.getKey(), current, runId, param.getValue()));
        }
      }
      Files.createDirectories(file.getParent());
      Files.writeString(file, param.getValue(), StandardCharsets.UTF_8);
    }
    for (MetricPoint metric : metrics) {
      Path file = run.resolve("metrics").resolve(metric.key());
      Files.createDirectories(file.getParent());
      Files.writeString(file, metric.timestampMs() + " " + PyFloat.format(metric.value()) + " "
              + metric.step() + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
    for (Map.Entry<String, String> tag : tags.entrySet()) {
      Path file = run.resolve("tags").resolve(tag.getKey());
      Files.createDirectories(file.getParent());
      Files.writeString(file, tag.getValue(), StandardCharsets.UTF_8);
      if (tag.getKey().equals("mlflow.runName")) {
        updateMeta(run, meta -> meta.put("run_name", tag.getValue()));
      }
    }
  }

  @Override
  public synchronized void setStatus(String runId, RunStatus status, Long endTimeMs)
      throws IOException {
    updateMeta(runDir(runId), meta -> {
      meta.put("status", status.number);
      meta.put("end_time", endTimeMs);
    });
  }

  @Override
  public synchronized void logArtifact(String runId, String artifactUri, String directory,
      Path file) throws IOException {
    Path artifacts = Path.of(java.net.URI.create(artifactUri));
    Path target = artifacts.resolve(directory).resolve(file.getFileName().toString());
    Files.createDirectories(target.getParent());
    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public synchronized CreatedModel createLoggedModel(String experimentId, String name,
      String sourceRunId, Map<String, String> params, Map<String, String> tags)
      throws IOException {
    Path experiment = root.resolve(experimentId);
    Map<String, Object> experimentMeta = readMeta(experiment);
    String modelId = "m-" + UUID.randomUUID().toString().replace("-", "");
    Path dir = Files.createDirectories(experiment.resolve(MODELS).resolve(modelId));
    String artifactUri = experimentMeta.get("artifact_location") + "/" + MODELS + "/" + modelId
        + "/artifacts";
    long now = System.currentTimeMillis();
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("artifact_location", artifactUri);
    meta.put("creation_timestamp", now);
    meta.put("experiment_id", experimentId);
    meta.put("last_updated_timestamp", now);
    meta.put("lifecycle_stage", "active");
    meta.put("model_id", modelId);
    meta.put("model_type", ModelArtifacts.MODEL_TYPE);
    meta.put("name", name);
    meta.put("source_run_id", sourceRunId);
    meta.put("status", MODEL_PENDING);
    meta.put("status_message", null);
    writeAtomically(dir.resolve(META), Yaml.dump(meta));
    for (String sub : List.of("metrics", "params", "tags")) {
      Files.createDirectories(dir.resolve(sub));
    }
    Files.createDirectories(Path.of(java.net.URI.create(artifactUri)));
    for (Map.Entry<String, String> param : params.entrySet()) {
      Files.writeString(dir.resolve("params").resolve(param.getKey()), param.getValue(),
          StandardCharsets.UTF_8);
    }
    for (Map.Entry<String, String> tag : tags.entrySet()) {
      Files.writeString(dir.resolve("tags").resolve(tag.getKey()), tag.getValue(),
          StandardCharsets.UTF_8);
    }
    return new CreatedModel(modelId, artifactUri);
  }

  @Override
  public synchronized void finalizeLoggedModel(String experimentId, String modelId)
      throws IOException {
    Path dir = root.resolve(experimentId).resolve(MODELS).resolve(modelId);
    if (!Files.exists(dir.resolve(META))) {
      throw new IllegalStateException("no logged model " + modelId + " in experiment "
          + experimentId + " under " + root);
    }
    updateMeta(dir, meta -> {
      meta.put("status", MODEL_READY);
      meta.put("last_updated_timestamp", System.currentTimeMillis());
    });
  }

  @Override
  public synchronized void logModelMetrics(String experimentId, String modelId, String runId,
      List<MetricPoint> metrics) throws IOException {
    Path dir = root.resolve(experimentId).resolve(MODELS).resolve(modelId).resolve("metrics");
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("no logged model " + modelId + " in experiment "
          + experimentId + " under " + root);
    }
    for (MetricPoint metric : metrics) {
      // MLflow 3's logged-model metric line: timestamp value step run_id.
      Files.writeString(dir.resolve(metric.key()), metric.timestampMs() + " "
              + PyFloat.format(metric.value()) + " " + metric.step() + " " + runId + "\n",
          StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }

  @Override
  public synchronized void logOutputs(String runId, String modelId, long step)
      throws IOException {
    Path dir = Files.createDirectories(runDir(runId).resolve("outputs").resolve(modelId));
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("destination_id", modelId);
    meta.put("destination_type", "MODEL_OUTPUT");
    meta.put("source_id", runId);
    meta.put("source_type", "RUN_OUTPUT");
    meta.put("step", step);
    writeAtomically(dir.resolve(META), Yaml.dump(meta));
  }

  @Override
  public boolean isRetryable(Exception failure) {
    return failure instanceof IOException;
  }

  private Path runDir(String runId) throws IOException {
    String experiment = runExperiments.get(runId);
    if (experiment != null) {
      return root.resolve(experiment).resolve(runId);
    }
    for (Path dir : experimentDirs()) {
      if (Files.exists(dir.resolve(runId).resolve(META))) {
        runExperiments.put(runId, dir.getFileName().toString());
        return dir.resolve(runId);
      }
    }
    throw new IllegalStateException("no run " + runId + " under " + root);
  }

  private interface MetaChange {
    void apply(Map<String, Object> meta);
  }

  private static void updateMeta(Path dir, MetaChange change) throws IOException {
    Map<String, Object> meta = readMeta(dir);
    change.apply(meta);
    writeAtomically(dir.resolve(META), Yaml.dump(meta));
  }

  private static Map<String, Object> readMeta(Path dir) throws IOException {
    Map<String, Object> meta = Yaml.readFlat(Files.readString(dir.resolve(META)));
    for (String numeric : List.of("creation_time", "last_update_time", "start_time", "end_time",
        "deleted_time", "status", "source_type", "creation_timestamp", "last_updated_timestamp")) {
      Object value = meta.get(numeric);
      if (value instanceof String s) {
        meta.put(numeric, Long.parseLong(s));
      }
    }
    return meta;
  }

  /** Writes via a temporary file and a move, as MLflow's overwrite_yaml does. */
  private static void writeAtomically(Path file, String text) throws IOException {
    Path temp = Files.createTempFile(file.getParent(), ".meta", ".tmp");
    Files.writeString(temp, text, StandardCharsets.UTF_8);
    Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
