package dev.flops.aggregator.internal.tracking;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.Instruction;
import dev.flops.api.strategy.Strategy;
import dev.flops.aggregator.TrainingPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tracks one training in MLflow from the aggregator's round loop: the experiment, a parent run, a
 * nested run per round ({@code mlflow.parentRunId}, named "round N", with its start and end time),
 * per-round metrics in the round's run and, at step = round, in the parent run; params; system
 * metrics on a timer; the final and best metrics; the best model as an MLflow 3 logged model
 * (the experiment's Models tab) that is an output of the best round's run and of the parent run,
 * and, for MLflow 2, in both runs' artifacts.
 *
 * <p>Every backend call is an {@link Outbox.Call} (data, not a closure): training never waits
 * for tracking, except at the end, for at most the flush timeout; what is still undelivered then
 * is written to the {@linkplain Tracking#outbox() outbox directory} by {@link OutboxFile} and
 * delivered by the next tracker for the same URI (before its own calls) or by {@link
 * dev.flops.aggregator.tracking.TrackingOutbox#flush}. So a run is never left RUNNING: its final
 * status waits on disk with the rest. Calls refer to runs by name ({@code run:parent}, {@code
 * run:round-3}) within their session; the backend's ids are bound as they arrive. Public methods
 * are called from the round loop's thread; calls run on the outbox's thread.
 */
public final class Tracker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Tracker.class);
  private static final Tracker DISABLED = new Tracker();

  /** Metric names, as they appear in MLflow. */
  public static final String LOSS = "loss";
  public static final String ACCURACY = "accuracy";
  public static final String FIT_LEARNERS = "fit_learners";
  public static final String FAILED_LEARNERS = "failed_learners";
  public static final String EVALUATE_LEARNERS = "evaluate_learners";
  public static final String EVALUATE_FAILED_LEARNERS = "evaluate_failed_learners";
  public static final String EVALUATE_EXAMPLES = "evaluate_examples";
  /** The examples the round's aggregated updates were trained on. */
  public static final String FIT_EXAMPLES = "fit_examples";
  /** Prefix of the aggregated fit metrics, e.g. {@code fit/train_loss}. */
  public static final String FIT_PREFIX = "fit/";
  /** Prefix of the central evaluation's loss and metrics, e.g. {@code central/accuracy}. */
  public static final String CENTRAL_PREFIX = "central/";
  public static final String ROUND_DURATION = "round_duration_s";
  /** Seconds the round waited for enough learners before it started; not in its duration. */
  public static final String ROUND_LEARNER_WAIT = "round_learner_wait_s";
  public static final String BYTES_RECEIVED = "bytes_received";
  public static final String BYTES_SENT = "bytes_sent";
  /** CPU seconds the aggregator process used during the round (not a running total). */
  public static final String CPU_SECONDS = "round/process_cpu_seconds";
  /** The round's CPU seconds over its wall time and the cores, in percent. */
  public static final String CPU_UTILIZATION = "round/process_cpu_utilization_percentage";
  /** Heap, non-heap and off-heap memory in use when the round ended. */
  public static final String HEAP = "round/jvm_heap_used_megabytes_at_end";
  public static final String NON_HEAP = "round/jvm_nonheap_used_megabytes_at_end";
  public static final String OFF_HEAP = "round/offheap_megabytes_at_end";

  private static final String EXPERIMENT = CallRunner.EXPERIMENT;
  private static final String PARENT = "parent";
  private static final String BEST_MODEL = "best";

  private final Tracking tracking;
  private final TrackingStore store;
  private final Outbox outbox;
  private final String experimentName;
  private final String session = UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  /** "&lt;session&gt;/&lt;name&gt;" to the backend's id or URI; written by the outbox's thread. */
  private final Map<String, String> bindings = new ConcurrentHashMap<>();
  private final Set<Integer> rounds = ConcurrentHashMap.newKeySet();
  /**
   * The outbox on disk: the files this tracker loaded, and its own file (a journal while the
   * backend fails, the final spill at the end). Written by the outbox's thread (journal) and the
   * round loop's (the end), hence the lock.
   */
  private final Object disk = new Object();
  private final String outboxFileName = OutboxFile.newName(session);
  /** Guarded by {@link #disk}. */
  private OutboxFile.Loaded loaded = OutboxFile.Loaded.empty();
  /** Guarded by {@link #disk}: whether the journal (this tracker's file) exists. */
  private boolean journalOnDisk;
  /** Guarded by {@link #disk}: the loaded files' calls are in the journal; their files are gone. */
  private boolean loadedSuperseded;
  /** Guarded by {@link #disk}: the end wrote (or removed) this tracker's file; no more journal. */
  private boolean finished;
  private boolean journalFailureLogged;
  private SystemMetricsMonitor monitor;
  private Integer openRound;
  private Path scratch;
  private Map<String, String> strategyParams = Map.of();
  /** Each round's evaluation metrics as logged, to link the best round's to the model. */
  private final Map<Integer, List<TrackingStore.MetricPoint>> evaluationPoints = new TreeMap<>();
  private boolean parentConfigLogged;
  private boolean started;

  private Tracker() {
    this.tracking = Tracking.off();
    this.store = null;
    this.outbox = null;
    this.experimentName = null;
  }

  private Tracker(Tracking tracking, TrackingStore store, String experimentName) {
    this.tracking = tracking;
    this.store = store;
    this.experimentName = experimentName;
    this.outbox = new Outbox(new CallRunner(store, bindings), new Outbox.Journal() {
      @Override
      public void save(List<Outbox.Call> pending) {
        saveJournal(pending);
      }

      @Override
      public void drained() {
        journalDrained();
      }
    }, tracking.initialBackoff(), tracking.maxBackoff());
  }

  /**
   * Opens the backend a {@link Tracking} names; checks what can be checked without talking to a
   * server (the file store directory is writable; the credential variables are consistent).
   *
   * @param defaultExperimentName the name to use when the tracking names none
   * @throws IllegalArgumentException if the file store cannot be used or the credentials are
   *     incomplete
   */
  public static Tracker open(Tracking tracking, String defaultExperimentName) {
    if (!tracking.enabled()) {
      return DISABLED;
    }
    return new Tracker(tracking, openStore(tracking, System.getenv()),
        tracking.experimentName().orElse(defaultExperimentName));
  }

  /** The backend of a tracking, with the credentials of the environment for a server. */
  static TrackingStore openStore(Tracking tracking, Map<String, String> environment) {
    String user = System.getProperty("user.name", "unknown");
    return switch (tracking.backend()) {
      case FILE_STORE -> new FileStore(tracking.directory().orElseThrow(), user);
      case SERVER -> {
        java.net.URI server = tracking.serverUri().orElseThrow();
        yield new RestStore(server, Credentials.from(environment, server), user);
      }
      case OFF -> throw new AssertionError();
    };
  }

  public boolean enabled() {
    return store != null;
  }

  private String key(String name) {
    return session + "/" + name;
  }

  /** The experiment id, once the backend gave it; null before or when tracking is off. */
  public String experimentId() {
    return enabled() ? bindings.get(key(EXPERIMENT)) : null;
  }

  /** The parent run id, once the backend gave it; null before or when tracking is off. */
  public String parentRunId() {
    return enabled() ? bindings.get(key("run:" + PARENT)) : null;
  }

  /** The run id of each round tracked so far whose run the backend created. */
  public Map<Integer, String> roundRunIds() {
    Map<Integer, String> ids = new TreeMap<>();
    for (int round : rounds) {
      String id = bindings.get(key("run:" + roundRef(round)));
      if (id != null) {
        ids.put(round, id);
      }
    }
    return ids;
  }

  /**
   * Returns the run id of {@code round}'s run, waiting at most {@code max} for the outbox thread
   * to get it from the backend (the file store creates a run in milliseconds; a server that is
   * down never does).
   *
   * @return the id, or null if tracking is off, the round was not started, or the id did not
   *     come in time
   * @throws InterruptedException if the calling thread is interrupted while waiting
   */
  public String awaitRoundRunId(int round, java.time.Duration max) throws InterruptedException {
    if (!enabled() || !rounds.contains(round)) {
      return null;
    }
    long deadline = System.nanoTime() + max.toNanos();
    String key = key("run:" + roundRef(round));
    String id = bindings.get(key);
    while (id == null && System.nanoTime() < deadline) {
      Thread.sleep(5);
      id = bindings.get(key);
    }
    return id;
  }

  private static String roundRef(int round) {
    return "round-" + round;
  }

  private void submit(String kind, String description, JsonObject args) {
    outbox.submit(new Outbox.Call(session, kind, description, args));
  }

  private static JsonObject args(Object... keyValues) {
    JsonObject args = new JsonObject();
    for (int i = 0; i < keyValues.length; i += 2) {
      Object value = keyValues[i + 1];
      String name = (String) keyValues[i];
      if (value instanceof JsonElement element) {
        args.add(name, element);
      } else if (value instanceof Number number) {
        args.addProperty(name, number);
      } else if (value != null) {
        args.addProperty(name, value.toString());
      }
    }
    return args;
  }

  private static JsonObject stringMap(Map<String, String> map) {
    JsonObject json = new JsonObject();
    map.forEach(json::addProperty);
    return json;
  }

  private static JsonArray metricsJson(List<TrackingStore.MetricPoint> metrics) {
    JsonArray array = new JsonArray();
    for (TrackingStore.MetricPoint m : metrics) {
      JsonObject point = new JsonObject();
      point.addProperty("key", m.key());
      // As text: JSON has no NaN or infinity, Double.toString/parseDouble round-trip them.
      point.addProperty("value", Double.toString(m.value()));
      point.addProperty("timestamp", m.timestampMs());
      point.addProperty("step", m.step());
      array.add(point);
    }
    return array;
  }

  /**
   * Gets or creates the experiment and creates (or resumes) the parent run; first queues what
   * earlier trainings left undelivered in the outbox for this URI.
   */
  public void trainingStarted(TrainingStarted event, Strategy strategy, TrainingPlan plan,
      String modelName) {
    if (!enabled()) {
      return;
    }
    started = true;
    OutboxFile.Loaded earlier = loadOutbox();
    if (!earlier.calls().isEmpty()) {
      log.info("delivering {} tracking call(s) that earlier trainings left in the outbox {} to "
          + "MLflow at {}", earlier.calls().size(), tracking.outbox(), store.uri());
    }
    long start = event.startedAt().toEpochMilli();
    tracking.resumeRoundRunIds().forEach((round, id) -> {
      rounds.add(round);
      bindings.put(key("run:" + roundRef(round)), id);
    });
    if (tracking.resumeParentRunId().isPresent()) {
      bindings.put(key(EXPERIMENT), tracking.resumeExperimentId().orElseThrow());
      bindings.put(key("run:" + PARENT), tracking.resumeParentRunId().get());
      submit("resume_run", "resume parent run " + parentRunId(), args("ref", PARENT));
      log.info("tracking resumes MLflow run {} of experiment {} at {}", parentRunId(),
          experimentId(), store.uri());
    } else {
      Map<String, String> tags = commonTags(plan.name());
      tags.put("mlflow.note.content", String.format("Federated training of %s: %d rounds with %s",
          modelName, event.rounds(), event.strategy()));
      if (plan.nestUnder().isPresent()) {
        // Nested under a run of someone else's session (a root aggregator's round, a sweep):
        // its experiment is known by id, and the parent is named by id, not by reference.
        bindings.put(key(EXPERIMENT), plan.nestUnder().get().getKey());
        tags.put("mlflow.parentRunId", plan.nestUnder().get().getValue());
      } else {
        submit("experiment", "get or create experiment '" + experimentName + "'",
            args("name", experimentName));
      }
      submit("create_run", "create the parent run", args("ref", PARENT, "name", plan.name(),
          "start", start, "tags", stringMap(tags)));
    }
    Map<String, String> params = new LinkedHashMap<>();
    params.put("strategy", strategy.getClass().getSimpleName());
    strategy.knobs().forEach((k, v) -> params.put(k, String.valueOf(v)));
    plan.knobs().forEach((k, v) -> params.putIfAbsent(k, String.valueOf(v)));
    params.put("model", modelName);
    strategyParams = Map.copyOf(params);
    if (tracking.resumeParentRunId().isPresent()) {
      // The interrupted training logged them; MLflow refuses a param whose value changes.
      parentConfigLogged = true;
    } else {
      submit("log_batch", "log the parent run's params", args("ref", PARENT,
          "params", stringMap(params)));
    }
    if (!tracking.systemMetricsInterval().isZero()) {
      monitor = SystemMetricsMonitor.start(tracking.systemMetricsInterval(), points ->
          submit("log_batch", "log system metrics (step " + points.get(0).step() + ")",
              args("ref", PARENT, "metrics", metricsJson(points))));
    }
    log.info("tracking to MLflow at {} (experiment '{}')", store.uri(), experimentName);
  }

  private Map<String, String> commonTags(String runName) {
    Map<String, String> tags = new LinkedHashMap<>();
    tags.put("mlflow.runName", runName);
    tags.put("mlflow.user", System.getProperty("user.name", "unknown"));
    tags.put("mlflow.source.type", "LOCAL");
    tags.put("mlflow.source.name", sourceName());
    tags.put("flops.version", ModelArtifacts.flopsVersion());
    return tags;
  }

  private static String sourceName() {
    String command = System.getProperty("sun.java.command", "");
    String main = command.isBlank() ? "" : command.split(" ")[0];
    return main.isBlank() ? "flops-aggregator" : main;
  }

  /** Creates the round's nested run, RUNNING from {@code startedAt}. */
  public void roundStarted(int round, Instant startedAt) {
    if (!enabled()) {
      return;
    }
    rounds.add(round);
    openRound = round;
    Map<String, String> tags = commonTags("round " + round);
    tags.put("flops.round", String.valueOf(round));
    submit("create_run", "create run 'round " + round + "'", args("ref", roundRef(round),
        "parent", PARENT, "name", "round " + round, "start", startedAt.toEpochMilli(),
        "tags", stringMap(tags)));
  }

  /**
   * Logs a round's metrics and params to its run and its metrics (step = round) to the parent run,
   * then ends the round's run.
   */
  public void roundFinished(RoundSummary summary, Instant endedAt, List<Instruction> fitConfigs,
      List<Instruction> evaluateConfigs) {
    if (!enabled()) {
      return;
    }
    int round = summary.round();
    long end = endedAt.toEpochMilli();
    List<TrackingStore.MetricPoint> metrics = new ArrayList<>();
    roundMetrics(summary).forEach((key, value) ->
        metrics.add(new TrackingStore.MetricPoint(key, value, end, round)));
    summary.federatedEvaluation().ifPresent(evaluation -> evaluationPoints.put(round,
        metrics.stream().filter(m -> m.key().equals(LOSS)
            || evaluation.metrics().containsKey(m.key())).toList()));
    Map<String, String> params = new LinkedHashMap<>(strategyParams);
    Map<String, String> configParams = new LinkedHashMap<>();
    configParams.putAll(configParams("fit_config.", fitConfigs));
    configParams.putAll(configParams("evaluate_config.", evaluateConfigs));
    if (configParams.containsKey("fit_config.local_epochs")) {
      configParams.put("local_epochs", configParams.get("fit_config.local_epochs"));
    }
    params.putAll(configParams);
    submit("log_batch", "log round " + round + " to run 'round " + round + "'",
        args("ref", roundRef(round), "metrics", metricsJson(metrics), "params", stringMap(params)));
    Map<String, String> parentParams = parentConfigLogged ? Map.of() : configParams;
    parentConfigLogged = true;
    submit("log_batch", "log round " + round + " to the parent run", args("ref", PARENT,
        "metrics", metricsJson(metrics), "params", stringMap(parentParams)));
    submit("set_status", "end run 'round " + round + "'", args("ref", roundRef(round),
        "status", TrackingStore.RunStatus.FINISHED.name(), "end", end));
    openRound = null;
  }

  /**
   * The configs a phase sent, as params: a key every learner got with the same value is
   * {@code <prefix><key>}; a key whose value differs between learners (or that only some got)
   * is {@code <prefix><key>.<learner id>}, one param per learner, so that no learner's config
   * is recorded as if every learner had it.
   */
  static Map<String, String> configParams(String prefix, List<Instruction> instructions) {
    Map<String, String> params = new LinkedHashMap<>();
    if (instructions.isEmpty()) {
      return params;
    }
    java.util.Set<String> keys = new java.util.TreeSet<>();
    instructions.forEach(instruction -> keys.addAll(instruction.config().values().keySet()));
    for (String key : keys) {
      java.util.Set<String> values = new java.util.HashSet<>();
      boolean everyone = true;
      for (Instruction instruction : instructions) {
        Object value = instruction.config().values().get(key);
        everyone &= value != null;
        values.add(String.valueOf(value));
      }
      if (everyone && values.size() == 1) {
        params.put(prefix + key, values.iterator().next());
      } else {
        for (Instruction instruction : instructions) {
          Object value = instruction.config().values().get(key);
          if (value != null) {
            params.put(prefix + key + "." + instruction.learnerId(), String.valueOf(value));
          }
        }
      }
    }
    return params;
  }

  /** The metrics of a round, in MLflow's names; absent evaluation means no loss or accuracy. */
  public static Map<String, Double> roundMetrics(RoundSummary summary) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    summary.federatedEvaluation().ifPresent(evaluation -> {
      metrics.put(LOSS, evaluation.loss());
      evaluation.metrics().forEach(metrics::put);
      metrics.put(EVALUATE_EXAMPLES, (double) evaluation.numExamples());
    });
    summary.central().ifPresent(central -> {
      metrics.put(CENTRAL_PREFIX + LOSS, central.loss());
      central.metrics().forEach((name, value) -> metrics.put(CENTRAL_PREFIX + name, value));
      metrics.put(CENTRAL_PREFIX + "examples", (double) central.numExamples());
    });
    summary.fitMetrics().forEach((name, value) -> metrics.put(FIT_PREFIX + name, value));
    metrics.put(FIT_EXAMPLES, (double) summary.fitExamples());
    metrics.put(FIT_LEARNERS, (double) summary.fitSucceeded());
    metrics.put(FAILED_LEARNERS, (double) summary.fitFailed());
    metrics.put(EVALUATE_LEARNERS, (double) summary.evaluateSucceeded());
    metrics.put(EVALUATE_FAILED_LEARNERS, (double) summary.evaluateFailed());
    double seconds = summary.duration().toNanos() / 1e9;
    metrics.put(ROUND_DURATION, seconds);
    metrics.put(ROUND_LEARNER_WAIT, summary.learnerWait().toNanos() / 1e9);
    RoundResources r = summary.resources();
    metrics.put(BYTES_RECEIVED, (double) r.bytesReceived());
    metrics.put(BYTES_SENT, (double) r.bytesSent());
    if (r.processCpuSeconds() >= 0) {
      metrics.put(CPU_SECONDS, r.processCpuSeconds());
      if (seconds > 0) {
        metrics.put(CPU_UTILIZATION, 100 * r.processCpuSeconds()
            / (seconds * Runtime.getRuntime().availableProcessors()));
      }
    }
    if (r.heapUsedBytes() >= 0) {
      metrics.put(HEAP, r.heapUsedBytes() / 1e6);
    }
    if (r.nonHeapUsedBytes() >= 0) {
      metrics.put(NON_HEAP, r.nonHeapUsedBytes() / 1e6);
    }
    if (r.offHeapBytes() >= 0) {
      metrics.put(OFF_HEAP, r.offHeapBytes() / 1e6);
    }
    return metrics;
  }

  /**
   * Logs the final and best metrics and the best model, ends the parent run as FINISHED and waits
   * (at most the flush timeout) for everything to be sent; what is not is kept in the outbox.
   *
   * @return where the training was tracked, with what could not be sent; null if tracking is off
   */
  public TrackingInfo trainingSucceeded(TrainingResult result, Parameters bestParameters,
      FederatedModel model) throws InterruptedException {
    if (!enabled()) {
      return null;
    }
    stopMonitor();
    long end = System.currentTimeMillis();
    int last = result.finalRound().round();
    Map<String, Double> finals = new LinkedHashMap<>();
    RoundSummary lastRound = result.finalRound();
    if (lastRound.federatedEvaluation().isPresent()) {
      finals.put("final_loss", lastRound.loss());
      finals.put("final_accuracy", lastRound.accuracy());
    }
    result.best().ifPresent(best -> {
      finals.put("best_loss", best.loss());
      finals.put("best_accuracy", best.accuracy());
      // Whatever metric ranked the rounds (bestRound), its value in the best round is there too.
      best.federatedEvaluation().ifPresent(
          evaluation -> evaluation.metrics().forEach((k, v) -> finals.putIfAbsent("best_" + k, v)));
      finals.put("best_round", (double) best.round());
    });
    finals.put("training_duration_s", result.duration().toNanos() / 1e9);
    // A model without accuracy has none to log: MLflow would store NaN as a real point.
    finals.values().removeIf(value -> Double.isNaN(value));
    List<TrackingStore.MetricPoint> points = new ArrayList<>();
    finals.forEach((k, v) -> points.add(new TrackingStore.MetricPoint(k, v, end, last)));
    Map<String, String> tags = new LinkedHashMap<>();
    result.best().ifPresent(best -> tags.put("flops.best_round", String.valueOf(best.round())));
    submit("log_batch", "log the final and best metrics to the parent run", args("ref", PARENT,
        "metrics", metricsJson(points), "tags", stringMap(tags)));
    Integer bestRound = result.best().map(RoundSummary::round).orElse(null);
    result.best().ifPresent(best -> {
      if (bestParameters != null) {
        logModel(model, bestParameters, best);
      } else {
        // Resumed from a checkpoint written after a later round: those parameters are gone.
        log.info("the best round {} ran before the checkpoint the training resumed from; its "
            + "model is not logged", best.round());
      }
    });
    submit("set_status", "end the parent run", args("ref", PARENT,
        "status", TrackingStore.RunStatus.FINISHED.name(), "end", end));
    return finish(bestRound);
  }

  /**
   * Ends the open round's run and the parent run as FAILED, logs the best model so far, and waits
   * for everything to be sent; what is not is kept in the outbox.
   */
  public TrackingInfo trainingFailed(Throwable cause, RoundSummary bestSoFar,
      Parameters bestParameters, FederatedModel model) throws InterruptedException {
    if (!enabled() || !started) {
      return null;
    }
    stopMonitor();
    long end = System.currentTimeMillis();
    Integer open = openRound;
    if (open != null) {
      submit("set_status", "end run 'round " + open + "' as failed", args("ref", roundRef(open),
          "status", TrackingStore.RunStatus.FAILED.name(), "end", end));
    }
    String message = String.valueOf(cause.getMessage());
    Map<String, String> tags = Map.of("flops.error", cause.getClass().getName() + ": "
        + (message.length() > 4000 ? message.substring(0, 4000) : message));
    submit("log_batch", "tag the parent run with the failure", args("ref", PARENT,
        "tags", stringMap(tags)));
    if (bestSoFar != null && bestParameters != null) {
      logModel(model, bestParameters, bestSoFar);
    }
    submit("set_status", "end the parent run as failed", args("ref", PARENT,
        "status", TrackingStore.RunStatus.FAILED.name(), "end", end));
    return finish(bestSoFar == null ? null : bestSoFar.round());
  }

  /**
   * Logs the best model: an MLflow 3 logged model produced by the best round's run (created,
   * its files uploaded, finalized READY), an output of that run and of the parent run at step =
   * the best round; and a copy under {@code model/} in both runs' artifacts for MLflow 2.
   */
  private void logModel(FederatedModel model, Parameters parameters, RoundSummary best) {
    JsonObject modelJson;
    Map<String, Double> bestMetrics = new LinkedHashMap<>();
    bestMetrics.put(LOSS, best.loss());
    bestMetrics.put(ACCURACY, best.accuracy());
    bestMetrics.values().removeIf(value -> Double.isNaN(value));
    try {
      scratch = Files.createTempDirectory("flops-model-");
      modelJson = ModelArtifacts.write(model, parameters, best.round(), bestMetrics, scratch)
          .toJson();
    } catch (IOException | RuntimeException e) {
      log.warn("the best model (round {}) could not be written for tracking: {}", best.round(),
          e.toString());
      return;
    }
    boolean bestRunKnown = rounds.contains(best.round());
    String source = bestRunKnown ? roundRef(best.round()) : PARENT;
    Map<String, String> modelParams = new LinkedHashMap<>(strategyParams);
    Map<String, String> modelTags = new LinkedHashMap<>();
    modelTags.put("flops.best_round", String.valueOf(best.round()));
    modelTags.put("mlflow.user", System.getProperty("user.name", "unknown"));
    String what = "the best model (round " + best.round() + ")";
    submit("create_model", "create the logged model for " + what, args("model_ref", BEST_MODEL,
        "name", "model", "source", source, "params", stringMap(modelParams),
        "tags", stringMap(modelTags)));
    submit("upload_model", "upload " + what + " to the logged model", args("model_ref",
        BEST_MODEL, "target", "model", "ref", source, "model", modelJson));
    List<TrackingStore.MetricPoint> bestPoints = evaluationPoints.get(best.round());
    if (bestRunKnown && bestPoints != null && !bestPoints.isEmpty()) {
      submit("log_model_metrics", "link round " + best.round() + "'s metrics to " + what,
          args("model_ref", BEST_MODEL, "ref", source, "metrics", metricsJson(bestPoints)));
    }
    submit("finalize_model", "finalize the logged model of " + what,
        args("model_ref", BEST_MODEL));
    List<String> runs = bestRunKnown ? List.of(source, PARENT) : List.of(PARENT);
    for (String ref : runs) {
      String run = ref.equals(PARENT) ? "the parent run" : "run 'round " + best.round() + "'";
      submit("log_outputs", "record " + what + " as an output of " + run, args("ref", ref,
          "model_ref", BEST_MODEL, "step", best.round()));
      submit("upload_model", "log " + what + " to " + run + "'s artifacts", args("model_ref",
          BEST_MODEL, "target", "run", "ref", ref, "model", modelJson));
    }
  }

  private TrackingInfo finish(Integer bestRound) throws InterruptedException {
    Outbox.Result result = outbox.flush(tracking.flushTimeout());
    List<String> unsent = new ArrayList<>(result.dropped());
    String kept = keep(result.pending(), unsent);
    String parent = parentRunId();
    if (parent != null) {
      log.info("tracked in MLflow at {}: experiment {}, parent run {}{}", store.uri(),
          experimentId(), parent, kept == null ? ""
              : "; " + result.pending().size() + " call(s) wait in the outbox " + kept);
    } else if (kept != null) {
      log.warn("not tracked yet: nothing reached MLflow at {}; {}", store.uri(),
          pendingAdvice(result.pending().size(), kept));
    }
    if (!result.dropped().isEmpty()) {
      log.warn("{} tracking call(s) were refused by MLflow at {} and dropped: {}",
          result.dropped().size(), store.uri(), String.join("; ", result.dropped()));
    }
    deleteScratch();
    String bestRun = bestRound == null ? null : bindings.get(key("run:" + roundRef(bestRound)));
    return new TrackingInfo(store.uri(), experimentId(), parent, bestRun, unsent, kept);
  }

  /** Delivers what waits in the outbox for this URI, without a training. */
  OutboxDelivery.Outcome deliverOutbox(Duration timeout) throws InterruptedException {
    loadOutbox();
    Outbox.Result result = outbox.flush(timeout);
    List<String> unsent = new ArrayList<>(result.dropped());
    String kept = keep(result.pending(), unsent);
    if (kept == null && !result.pending().isEmpty()) {
      throw new IllegalStateException(String.join("; ", unsent));
    }
    log.info("delivered {} tracking call(s) from the outbox {} to MLflow at {}; {} still wait, "
        + "{} refused", result.delivered(), tracking.outbox(), store.uri(), result.pending().size(),
        result.dropped().size());
    return new OutboxDelivery.Outcome(store.uri(), result.delivered(), result.pending().size(),
        result.dropped());
  }

  /** How to get the waiting calls delivered, for logs and the example's summary. */
  String pendingAdvice(int calls, String outboxDirectory) {
    return calls + " tracking call(s) wait in the outbox " + outboxDirectory + "; they are "
        + "delivered by the next aggregator that tracks to " + store.uri() + ", or now with "
        + "`java -cp <the aggregator's classpath> dev.flops.aggregator.AggregatorMain "
        + "flush-tracking --outbox " + outboxDirectory + " --tracking-uri " + store.uri()
        + "` (in a flops checkout: `bin/run-example flush-tracking --outbox " + outboxDirectory
        + " --tracking-uri " + store.uri() + "`)";
  }

  /** Loads what earlier trainings left in the outbox for this URI and queues it first. */
  private OutboxFile.Loaded loadOutbox() {
    OutboxFile.Loaded earlier = OutboxFile.load(tracking.outbox(), store.uri());
    synchronized (disk) {
      loaded = earlier;
    }
    bindings.putAll(earlier.bindings());
    outbox.submitAll(earlier.calls());
    return earlier;
  }

  /**
   * While the backend fails, keeps every pending call in this tracker's outbox file, so that a
   * process killed during an outage loses (almost) nothing; the files it loaded are then
   * superseded (their calls are in the journal).
   */
  private void saveJournal(List<Outbox.Call> pending) {
    synchronized (disk) {
      if (finished) {
        return;
      }
      try {
        OutboxFile.write(tracking.outbox(), outboxFileName, store.uri(), Map.copyOf(bindings),
            pending);
        journalOnDisk = true;
        if (!loadedSuperseded) {
          OutboxFile.delete(loaded.files(), false);
          loadedSuperseded = true;
        }
      } catch (IOException | RuntimeException e) {
        if (!journalFailureLogged) {
          journalFailureLogged = true;
          log.warn("could not keep the pending tracking calls on disk in {} ({}); they are kept "
              + "in memory and written again at the end", tracking.outbox(), e.toString());
        }
      }
    }
  }

  /** Everything was delivered: the journal and the loaded files are no longer needed. */
  private void journalDrained() {
    synchronized (disk) {
      if (finished) {
        return;
      }
      if (journalOnDisk) {
        OutboxFile.delete(List.of(tracking.outbox().resolve(outboxFileName)));
        journalOnDisk = false;
      }
      OutboxFile.delete(loaded.files());
      loaded = OutboxFile.Loaded.empty();
      loadedSuperseded = false;
    }
  }

  /**
   * Writes undelivered calls to the outbox (replacing this tracker's journal), then deletes the
   * outbox files this tracker loaded (their calls are either delivered or in the new file);
   * returns the directory, or null if nothing waits.
   */
  private String keep(List<Outbox.Call> pending, List<String> unsent) {
    synchronized (disk) {
      // The first end replaces the journal; anything kept later (at close) gets a file of its own.
      String name = finished ? OutboxFile.newName(UUID.randomUUID().toString().substring(0, 8))
          : outboxFileName;
      boolean journal = journalOnDisk && !finished;
      finished = true;
      journalOnDisk = false;
      if (pending.isEmpty()) {
        if (journal) {
          OutboxFile.delete(List.of(tracking.outbox().resolve(name)));
        }
        OutboxFile.delete(loaded.files());
        loaded = OutboxFile.Loaded.empty();
        return null;
      }
      try {
        Path file = OutboxFile.write(tracking.outbox(), name, store.uri(), Map.copyOf(bindings),
            pending);
        OutboxFile.delete(loaded.files());
        loaded = OutboxFile.Loaded.empty();
        for (Outbox.Call call : pending) {
          unsent.add(call.description() + " (kept in the outbox " + file + ")");
        }
        if (parentRunId() != null) {
          log.warn(pendingAdvice(pending.size(), tracking.outbox().toString()));
        }
        return tracking.outbox().toString();
      } catch (IOException | RuntimeException e) {
        log.error("{} tracking call(s) could not be written to the outbox {} and are lost: {}",
            pending.size(), tracking.outbox(), e.toString());
        for (Outbox.Call call : pending) {
          unsent.add(call.description() + " (lost: the outbox could not be written: " + e + ")");
        }
        return null;
      }
    }
  }

  private void stopMonitor() {
    if (monitor != null) {
      monitor.close();
      monitor = null;
    }
  }

  private void deleteScratch() {
    if (scratch != null) {
      CallRunner.deleteTree(scratch);
      scratch = null;
    }
  }

  /** Stops tracking; calls still queued (training never finished) are kept in the outbox. */
  @Override
  public void close() {
    if (outbox != null) {
      stopMonitor();
      List<Outbox.Call> pending = outbox.close();
      if (!pending.isEmpty()) {
        List<String> lost = new ArrayList<>();
        String kept = keep(pending, lost);
        if (kept != null) {
          log.warn("tracking closed before its calls were delivered; {}",
              pendingAdvice(pending.size(), kept));
        }
      }
      store.close();
      deleteScratch();
    }
  }
}
