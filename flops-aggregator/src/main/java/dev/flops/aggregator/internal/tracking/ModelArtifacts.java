package dev.flops.aggregator.internal.tracking;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.reflect.TypeToken;
import java.lang.reflect.Type;
import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;
import dev.flops.api.SavableModel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * The best model as MLflow artifacts, in the artifact directory {@code model/}:
 *
 * <ul>
 *   <li>the model file: the model's own format when it is a {@link SavableModel} (DL4J: {@code
 *       model.zip} from {@code ModelSerializer}), else {@code model.safetensors} (see {@link
 *       SafeTensors});
 *   <li>{@code MLmodel}: MLflow's model descriptor (artifact_path, flavors, mlflow_version,
 *       model_id, model_size_bytes, model_uuid, run_id, utc_time_created) with the model's flavour and a {@code flops}
 *       flavour (best round, its metrics, flops version);
 *   <li>{@code requirements.txt}: Maven coordinates needed to load the model file;
 *   <li>{@code java_env.yaml}: the Java runtime, the operating system and the flops version.
 * </ul>
 */
final class ModelArtifacts {
  static final String ARTIFACT_PATH = "model";
  static final String MLMODEL = "MLmodel";
  static final String REQUIREMENTS = "requirements.txt";
  static final String ENVIRONMENT = "java_env.yaml";
  /** The logged model's type in MLflow 3 (a free string MLflow shows in the Models tab). */
  static final String MODEL_TYPE = "flops";
  /**
   * The MLflow version whose MLmodel layout this writes (MLflow 3 adds {@code model_id} and
   * {@code mlflow_version}); MLflow compares it with its own only to warn on a major mismatch.
   */
  static final String MLFLOW_FORMAT_VERSION = "3.6.0";
  private static final DateTimeFormatter UTC_CREATED =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS");

  private final Path modelFile;
  private final String flavor;
  private final Map<String, Object> flavorAttributes;
  private final List<String> requirements;
  private final Map<String, Object> flopsFlavor;

  private ModelArtifacts(Path modelFile, String flavor, Map<String, Object> flavorAttributes,
      List<String> requirements, Map<String, Object> flopsFlavor) {
    this.modelFile = modelFile;
    this.flavor = flavor;
    this.flavorAttributes = flavorAttributes;
    this.requirements = requirements;
    this.flopsFlavor = flopsFlavor;
  }

  /** Writes the model file into {@code directory}. */
  static ModelArtifacts write(FederatedModel model, Parameters parameters, int bestRound,
      Map<String, Double> bestMetrics, Path directory) throws IOException {
    Map<String, Object> flops = new LinkedHashMap<>();
    flops.put("best_round", bestRound);
    bestMetrics.forEach(flops::put);
    flops.put("env", ENVIRONMENT);
    flops.put("flops_version", flopsVersion());
    flops.put("model", model.getClass().getName());
    flops.put("requirements", REQUIREMENTS);
    if (model instanceof SavableModel savable) {
      Path file = directory.resolve(savable.fileName());
      savable.save(parameters, file);
      return new ModelArtifacts(file, savable.flavor(), new LinkedHashMap<>(savable.flavorAttributes()),
          savable.requirements(), flops);
    }
    Path file = directory.resolve(SafeTensors.FILE_NAME);
    SafeTensors.write(parameters, Map.of("format", "pt", "producer", "flops " + flopsVersion(),
        "best_round", String.valueOf(bestRound)), file);
    Map<String, Object> attributes = new LinkedHashMap<>();
    attributes.put("model_file", SafeTensors.FILE_NAME);
    attributes.put("format", "safetensors: 8-byte little-endian header length, JSON header "
        + "(name -> dtype, shape, data_offsets), little-endian tensor data");
    attributes.put("tensors", parameters.size());
    return new ModelArtifacts(file, "safetensors", attributes,
        List.of("dev.flops:flops-api:" + flopsVersion()), flops);
  }

  Path modelFile() {
    return modelFile;
  }

  /**
   * Writes MLmodel, requirements.txt and java_env.yaml for one run into {@code directory} and
   * returns every file of the model artifact, the model file first, with the MLflow model dict
   * for the run's {@code mlflow.log-model.history} tag.
   */
  Logged describeFor(String runId, String modelId, Path directory) throws IOException {
    Files.createDirectories(directory);
    String created = ZonedDateTime.now(ZoneOffset.UTC).format(UTC_CREATED);
    String uuid = UUID.randomUUID().toString().replace("-", "");
    Map<String, Object> flavors = new LinkedHashMap<>();
    flavors.put(flavor, flavorAttributes);
    flavors.put("flops", flopsFlavor);
    Map<String, Object> mlmodel = new LinkedHashMap<>();
    mlmodel.put("artifact_path", ARTIFACT_PATH);
    mlmodel.put("flavors", flavors);
    mlmodel.put("mlflow_version", MLFLOW_FORMAT_VERSION);
    if (modelId != null) {
      mlmodel.put("model_id", modelId);
    }
    mlmodel.put("model_size_bytes", Files.size(modelFile));
    mlmodel.put("model_uuid", uuid);
    mlmodel.put("run_id", runId);
    mlmodel.put("utc_time_created", created);
    Path mlmodelFile = directory.resolve(MLMODEL);
    Files.writeString(mlmodelFile, Yaml.dump(mlmodel), StandardCharsets.UTF_8);

    Path requirementsFile = directory.resolve(REQUIREMENTS);
    StringBuilder text = new StringBuilder("# Maven coordinates (groupId:artifactId:version, "
        + "or groupId:artifactId:jar:classifier:version) needed to load "
        + modelFile.getFileName() + "\n");
    requirements.forEach(r -> text.append(r).append('\n'));
    Files.writeString(requirementsFile, text, StandardCharsets.UTF_8);

    Path environmentFile = directory.resolve(ENVIRONMENT);
    Files.writeString(environmentFile, Yaml.dump(environment()), StandardCharsets.UTF_8);

    Map<String, Object> history = new LinkedHashMap<>();
    history.put("run_id", runId);
    history.put("artifact_path", ARTIFACT_PATH);
    history.put("utc_time_created", created);
    history.put("flavors", flavors);
    history.put("model_uuid", uuid);
    if (modelId != null) {
      history.put("model_id", modelId);
    }
    // Python's json.loads, which MLflow reads the tag with, accepts NaN and Infinity.
    String historyTag = new GsonBuilder().serializeSpecialFloatingPointValues().create()
        .toJson(List.of(history));
    List<Path> files = new ArrayList<>(List.of(modelFile, mlmodelFile, requirementsFile,
        environmentFile));
    return new Logged(files, historyTag);
  }

  /** The model as JSON, so that a call that logs it can wait in the outbox on disk. */
  JsonObject toJson() {
    // Best metrics may be NaN or infinite; the outbox file reads them back leniently.
    Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
    JsonObject json = new JsonObject();
    json.addProperty("file", modelFile.toAbsolutePath().toString());
    json.addProperty("flavor", flavor);
    json.add("flavor_attributes", gson.toJsonTree(flavorAttributes));
    json.add("requirements", gson.toJsonTree(requirements));
    json.add("flops_flavor", gson.toJsonTree(flopsFlavor));
    return json;
  }

  /** Reads what {@link #toJson()} wrote. */
  static ModelArtifacts fromJson(JsonObject json) {
    Gson gson = new Gson();
    Type map = new TypeToken<LinkedHashMap<String, Object>>() {}.getType();
    Type list = new TypeToken<List<String>>() {}.getType();
    return new ModelArtifacts(Path.of(json.get("file").getAsString()),
        json.get("flavor").getAsString(), integral(gson.fromJson(json.get("flavor_attributes"), map)),
        gson.fromJson(json.get("requirements"), list), integral(gson.fromJson(json.get(
            "flops_flavor"), map)));
  }

  /** Gson reads every JSON number as a double; MLmodel should keep 3 as 3, not 3.0. */
  private static Map<String, Object> integral(Map<String, Object> map) {
    map.replaceAll((k, v) -> v instanceof Double d && d == Math.rint(d) && !k.contains("loss")
        && !k.contains("accuracy") ? (Object) d.longValue() : v);
    return map;
  }

  /** The files of one run's model artifact and its log-model history tag. */
  record Logged(List<Path> files, String historyTag) {}

  static Map<String, Object> environment() {
    Map<String, Object> java = new LinkedHashMap<>();
    java.put("runtime_version", System.getProperty("java.runtime.version", "unknown"));
    java.put("vendor", System.getProperty("java.vendor", "unknown"));
    java.put("vm", System.getProperty("java.vm.name", "unknown"));
    java.put("vm_version", System.getProperty("java.vm.version", "unknown"));
    Map<String, Object> os = new LinkedHashMap<>();
    os.put("name", System.getProperty("os.name", "unknown"));
    os.put("version", System.getProperty("os.version", "unknown"));
    os.put("arch", System.getProperty("os.arch", "unknown"));
    os.put("available_processors", Runtime.getRuntime().availableProcessors());
    Map<String, Object> env = new LinkedHashMap<>();
    env.put("flops_version", flopsVersion());
    env.put("java", java);
    env.put("os", os);
    env.put("requirements", REQUIREMENTS);
    return env;
  }

  /** The flops version Maven wrote into flops.properties. */
  static String flopsVersion() {
    try (InputStream in = ModelArtifacts.class.getResourceAsStream(
        "/dev/flops/aggregator/flops.properties")) {
      if (in == null) {
        return "unknown";
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }
}
