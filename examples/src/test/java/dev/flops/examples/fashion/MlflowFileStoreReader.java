package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A test-side reader of MLflow's file store that checks every file against the layout MLflow's
 * own {@code FileStore} (mlflow/store/tracking/file_store.py) writes and reads:
 *
 * <ul>
 *   <li>{@code <root>/.trash/} and the {@code 0} "Default" experiment;
 *   <li>{@code <root>/<id>/meta.yaml} with exactly artifact_location, creation_time, experiment_id
 *       (a quoted string equal to the directory name), last_update_time, lifecycle_stage, name,
 *       sorted as PyYAML sorts them;
 *   <li>{@code <root>/<id>/<run_id>/meta.yaml} with exactly the keys of RunInfo as persisted
 *       (artifact_uri, deleted_time, end_time, entry_point_name, experiment_id, lifecycle_stage,
 *       run_id, run_name, run_uuid, source_name, source_type, source_version, start_time, status,
 *       tags, user_id), run_id = run_uuid = directory name (32 hex digits), artifact_uri =
 *       artifact_location/run_id/artifacts;
 *   <li>{@code metrics/<key>}: lines {@code <timestamp_ms> <value> <step>}; {@code params/<key>}
 *       and {@code tags/<key>}: the value without a newline; {@code artifacts/}.
 * </ul>
 *
 * Written independently of flops' writer, from MLflow's documentation and source.
 */
final class MlflowFileStoreReader {
  private static final List<String> EXPERIMENT_KEYS = List.of("artifact_location",
      "creation_time", "experiment_id", "last_update_time", "lifecycle_stage", "name");
  private static final List<String> RUN_KEYS = List.of("artifact_uri", "deleted_time",
      "end_time", "entry_point_name", "experiment_id", "lifecycle_stage", "run_id", "run_name",
      "run_uuid", "source_name", "source_type", "source_version", "start_time", "status", "tags",
      "user_id");
  private static final List<String> MODEL_KEYS = List.of("artifact_location",
      "creation_timestamp", "experiment_id", "last_updated_timestamp", "lifecycle_stage",
      "model_id", "model_type", "name", "source_run_id", "status", "status_message");
  /** Python's str(float): digits, optional fraction and exponent; nan, inf. */
  private static final Pattern METRIC_LINE = Pattern.compile(
      "\\d+ (-?(\\d+\\.\\d+(e[-+]\\d\\d+)?|\\d(\\.\\d+)?e[-+]\\d\\d+|nan|inf)) \\d+");

  record MetricValue(long timestamp, double value, long step) {}

  record Run(String id, Map<String, String> meta, Map<String, List<MetricValue>> metrics,
      Map<String, String> params, Map<String, String> tags, Path artifacts) {
    String name() {
      return tags.get("mlflow.runName");
    }
  }

  /** An MLflow 3 logged model: its meta.yaml, params and where its artifacts are. */
  record LoggedModel(String id, Map<String, String> meta, Map<String, String> params,
      Path artifacts) {}

  record Experiment(String id, Map<String, String> meta, List<Run> runs,
      List<LoggedModel> models) {}

  private MlflowFileStoreReader() {}

  /** Reads and checks the experiment named {@code name} and all its runs. */
  static Experiment read(Path root, String name) throws IOException {
    assertTrue(Files.isDirectory(root.resolve(".trash")), ".trash");
    Map<String, String> defaults = meta(root.resolve("0/meta.yaml"), EXPERIMENT_KEYS);
    assertEquals("'0'", defaults.get("experiment_id"));
    assertEquals("Default", defaults.get("name"));
    Experiment found = null;
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
        String id = dir.getFileName().toString();
        if (id.equals(".trash")) {
          continue;
        }
        assertTrue(id.matches("0|[1-9]\\d{17}"), "experiment id " + id);
        Map<String, String> meta = meta(dir.resolve("meta.yaml"), EXPERIMENT_KEYS);
        assertEquals("'" + id + "'", meta.get("experiment_id"), "quoted, as PyYAML writes it");
        assertEquals(fileUri(dir), meta.get("artifact_location"));
        assertEquals("active", meta.get("lifecycle_stage"));
        assertTrue(meta.get("creation_time").matches("\\d{13}"));
        if (meta.get("name").equals(name)) {
          found = new Experiment(id, meta, runs(dir, meta.get("artifact_location")),
              models(dir, meta.get("artifact_location")));
        }
      }
    }
    assertTrue(found != null, "no experiment named " + name + " under " + root);
    return found;
  }

  private static List<Run> runs(Path experiment, String artifactLocation) throws IOException {
    List<Run> runs = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(experiment)) {
      for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
        String id = dir.getFileName().toString();
        if (id.equals("models")) {
          continue; // MLflow 3's logged models, a folder MLflow reserves: see models()
        }
        assertTrue(id.matches("[0-9a-f]{32}"), "run id " + id);
        Map<String, String> meta = meta(dir.resolve("meta.yaml"), RUN_KEYS);
        assertEquals(id, meta.get("run_id"));
        assertEquals(id, meta.get("run_uuid"));
        assertEquals("'" + experiment.getFileName() + "'", meta.get("experiment_id"));
        assertEquals(artifactLocation + "/" + id + "/artifacts", meta.get("artifact_uri"));
        assertEquals("active", meta.get("lifecycle_stage"));
        assertEquals("null", meta.get("deleted_time"));
        assertEquals("[]", meta.get("tags"));
        assertEquals("4", meta.get("source_type"), "SourceType.LOCAL");
        assertEquals("''", meta.get("entry_point_name"));
        assertTrue(meta.get("start_time").matches("\\d{13}"));
        assertTrue(Files.isDirectory(dir.resolve("artifacts")));
        Map<String, List<MetricValue>> metrics = new TreeMap<>();
        for (Map.Entry<String, String> file : files(dir.resolve("metrics")).entrySet()) {
          List<MetricValue> values = new ArrayList<>();
          assertTrue(file.getValue().endsWith("\n"), "metric lines end with a newline");
          for (String line : file.getValue().split("\n")) {
            assertTrue(METRIC_LINE.matcher(line).matches(), file.getKey() + ": '" + line + "'");
            String[] parts = line.split(" ");
            values.add(new MetricValue(Long.parseLong(parts[0]), Double.parseDouble(parts[1]),
                Long.parseLong(parts[2])));
          }
          metrics.put(file.getKey(), values);
        }
        Map<String, String> params = files(dir.resolve("params"));
        Map<String, String> tags = files(dir.resolve("tags"));
        for (String value : params.values()) {
          assertFalse(value.endsWith("\n"), "param values have no newline");
        }
        assertEquals(tags.get("mlflow.runName"), meta.get("run_name"));
        runs.add(new Run(id, meta, metrics, params, tags, dir.resolve("artifacts")));
      }
    }
    return runs;
  }

  /** Reads and checks the logged models of an experiment ({@code models/m-<32 hex>/}). */
  private static List<LoggedModel> models(Path experiment, String artifactLocation)
      throws IOException {
    List<LoggedModel> models = new ArrayList<>();
    Path root = experiment.resolve("models");
    if (!Files.isDirectory(root)) {
      return models;
    }
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path dir : dirs.sorted().toList()) {
        String id = dir.getFileName().toString();
        assertTrue(id.matches("m-[0-9a-f]{32}"), "logged model id " + id);
        Map<String, String> meta = meta(dir.resolve("meta.yaml"), MODEL_KEYS);
        assertEquals(id, meta.get("model_id"));
        assertEquals("'" + experiment.getFileName() + "'", meta.get("experiment_id"));
        assertEquals(artifactLocation + "/models/" + id + "/artifacts",
            meta.get("artifact_location"));
        assertEquals("active", meta.get("lifecycle_stage"));
        for (String sub : List.of("metrics", "params", "tags", "artifacts")) {
          assertTrue(Files.isDirectory(dir.resolve(sub)), id + "/" + sub);
        }
        models.add(new LoggedModel(id, meta, files(dir.resolve("params")),
            dir.resolve("artifacts")));
      }
    }
    return models;
  }

  /** Reads a meta.yaml, checking it holds exactly {@code keys}, in PyYAML's sorted order. */
  private static Map<String, String> meta(Path file, List<String> keys) throws IOException {
    Map<String, String> meta = new LinkedHashMap<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      int colon = line.indexOf(": ");
      assertTrue(colon > 0, file + ": '" + line + "'");
      meta.put(line.substring(0, colon), line.substring(colon + 2));
    }
    assertEquals(keys, List.copyOf(meta.keySet()), file.toString());
    return meta;
  }

  /** Files under a directory, nested names joined with '/', as MLflow names metrics. */
  private static Map<String, String> files(Path dir) throws IOException {
    Map<String, String> files = new TreeMap<>();
    if (!Files.isDirectory(dir)) {
      return files;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : walk.filter(Files::isRegularFile).toList()) {
        files.put(dir.relativize(file).toString().replace('\\', '/'),
            Files.readString(file, StandardCharsets.UTF_8));
      }
    }
    return files;
  }

  static String fileUri(Path path) {
    String uri = path.toAbsolutePath().normalize().toUri().toString();
    return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
  }
}
