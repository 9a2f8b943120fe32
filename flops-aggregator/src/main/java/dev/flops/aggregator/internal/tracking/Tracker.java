package dev.flops.aggregator.internal.tracking;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.FederatedModel;
import dev.flops.api.Parameters;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.Strategy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tracks one training in MLflow from the aggregator's round loop: the experiment, a parent run, a
 * nested run per round ({@code mlflow.parentRunId}, named "round N", with its start and end time),
 * per-round metrics in the round's run and, at step = round, in the parent run; params; the final
 * and best metrics; the best model in the best round's run and the parent run.
 *
 * <p>Every backend call goes through an {@link Outbox}: training never waits for tracking, except
 * at the end, for at most the flush timeout. Methods are called from the round loop's thread.
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
  public static final String ROUND_DURATION = "round_duration_s";
  public static final String BYTES_RECEIVED = "bytes_received";
  public static final String BYTES_SENT = "bytes_sent";
  public static final String CPU_SECONDS = "system/process_cpu_seconds";
  public static final String CPU_UTILIZATION = "system/process_cpu_utilization_percentage";
  public static final String HEAP = "system/jvm_heap_used_megabytes";
  public static final String NON_HEAP = "system/jvm_nonheap_used_megabytes";
  public static final String OFF_HEAP = "system/offheap_megabytes";

  /** A run whose id the backend may give later; calls that need it wait in the outbox. */
  private static final class RunRef {
    final String name;
    volatile String id;
    volatile String artifactUri;

    RunRef(String name) {
      this.name = name;
    }

    String require() {
      if (id == null) {
        throw new Outbox.Skipped("run '" + name + "' was never created");
      }
      return id;
    }
  }

  private final Tracking tracking;
  private final TrackingStore store;
  private final Outbox outbox;
  private final String experimentName;
  private final Map<Integer, RunRef> rounds = new ConcurrentHashMap<>();
  private volatile String experimentId;
  private RunRef parent;
  private RunRef openRound;
  private Path scratch;
  private Map<String, String> strategyParams = Map.of();
  private boolean parentConfigLogged;

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
    this.outbox = new Outbox(store, tracking.initialBackoff(), tracking.maxBackoff());
  }

  /**
   * Opens the backend a {@link Tracking} names; checks what can be checked without talking to a
   * server (the file store directory is writable).
   *
   * @param defaultExperimentName the name to use when the tracking names none
   * @throws IllegalArgumentException if the file store cannot be used
   */
  public static Tracker open(Tracking tracking, String defaultExperimentName) {
    if (!tracking.enabled()) {
      return DISABLED;
    }
    String user = System.getProperty("user.name", "unknown");
    TrackingStore store = switch (tracking.backend()) {
      case FILE_STORE -> new FileStore(tracking.directory().orElseThrow(), user);
      case SERVER -> new RestStore(java.net.URI.create(tracking.trackingUri()), user);
      case OFF -> throw new AssertionError();
    };
    return new Tracker(tracking, store, tracking.experimentName().orElse(defaultExperimentName));
  }

  public boolean enabled() {
    return store != null;
  }

  /** The experiment id, once the backend gave it; null before or when tracking is off. */
  public String experimentId() {
    return experimentId;
  }

  /** The parent run id, once the backend gave it; null before or when tracking is off. */
  public String parentRunId() {
    return parent == null ? null : parent.id;
  }

  /** The run id of each round tracked so far whose run the backend created. */
  public Map<Integer, String> roundRunIds() {
    Map<Integer, String> ids = new TreeMap<>();
    rounds.forEach((round, ref) -> {
      if (ref.id != null) {
        ids.put(round, ref.id);
      }
    });
    return ids;
  }

  /** Gets or creates the experiment and creates (or resumes) the parent run. */
  public void trainingStarted(TrainingStarted event, Strategy strategy, String modelName) {
    if (!enabled()) {
      return;
    }
    long start = event.startedAt().toEpochMilli();
    parent = new RunRef("training");
    tracking.resumeRoundRunIds().forEach((round, id) -> {
      RunRef ref = new RunRef("round " + round);
      ref.id = id;
      rounds.put(round, ref);
    });
    if (tracking.resumeParentRunId().isPresent()) {
      experimentId = tracking.resumeExperimentId().orElseThrow();
      parent.id = tracking.resumeParentRunId().get();
      outbox.submit("resume parent run " + parent.id, () -> {
        parent.artifactUri = store.artifactUri(experimentId, parent.id);
        store.setStatus(parent.id, TrackingStore.RunStatus.RUNNING, null);
      });
      log.info("tracking resumes MLflow run {} of experiment {} at {}", parent.id, experimentId,
          store.uri());
    } else {
      outbox.submit("get or create experiment '" + experimentName + "'",
          () -> experimentId = store.experimentId(experimentName));
      Map<String, String> tags = commonTags("training");
      tags.put("mlflow.note.content", String.format("Federated training of %s: %d rounds with %s",
          modelName, event.rounds(), event.strategy()));
      outbox.submit("create the parent run", () -> {
        TrackingStore.CreatedRun run = store.createRun(requireExperiment(), "training", start, tags);
        parent.artifactUri = run.artifactUri();
        parent.id = run.runId();
      });
    }
    Map<String, String> params = new LinkedHashMap<>();
    params.put("strategy", strategy.getClass().getSimpleName());
    strategy.knobs().forEach((k, v) -> params.put(k, String.valueOf(v)));
    params.put("model", modelName);
    strategyParams = Map.copyOf(params);
    if (tracking.resumeParentRunId().isPresent()) {
      // The interrupted training logged them; MLflow refuses a param whose value changes.
      parentConfigLogged = true;
    } else {
      outbox.submit("log the parent run's params", () ->
          store.logBatch(parent.require(), List.of(), params, Map.of()));
    }
    log.info("tracking to MLflow at {} (experiment '{}')", store.uri(), experimentName);
  }

  private String requireExperiment() {
    if (experimentId == null) {
      throw new Outbox.Skipped("the experiment was never created");
    }
    return experimentId;
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
    RunRef run = new RunRef("round " + round);
    rounds.put(round, run);
    openRound = run;
    Map<String, String> tags = commonTags("round " + round);
    tags.put("flops.round", String.valueOf(round));
    outbox.submit("create run 'round " + round + "'", () -> {
      tags.put("mlflow.parentRunId", parent.require());
      TrackingStore.CreatedRun created =
          store.createRun(requireExperiment(), "round " + round, startedAt.toEpochMilli(), tags);
      run.artifactUri = created.artifactUri();
      run.id = created.runId();
    });
  }

  /**
   * Logs a round's metrics and params to its run and its metrics (step = round) to the parent run,
   * then ends the round's run.
   */
  public void roundFinished(RoundSummary summary, Instant endedAt, Config fitConfig,
      Config evaluateConfig) {
    if (!enabled()) {
      return;
    }
    int round = summary.round();
    RunRef run = rounds.get(round);
    long end = endedAt.toEpochMilli();
    List<TrackingStore.MetricPoint> metrics = new ArrayList<>();
    roundMetrics(summary).forEach((key, value) ->
        metrics.add(new TrackingStore.MetricPoint(key, value, end, round)));
    Map<String, String> params = new LinkedHashMap<>(strategyParams);
    Map<String, String> configParams = configParams(fitConfig, evaluateConfig);
    params.putAll(configParams);
    outbox.submit("log round " + round + " to run 'round " + round + "'",
        () -> store.logBatch(run.require(), metrics, params, Map.of()));
    Map<String, String> parentParams = parentConfigLogged ? Map.of() : configParams;
    parentConfigLogged = true;
    outbox.submit("log round " + round + " to the parent run",
        () -> store.logBatch(parent.require(), metrics, parentParams, Map.of()));
    outbox.submit("end run 'round " + round + "'",
        () -> store.setStatus(run.require(), TrackingStore.RunStatus.FINISHED, end));
    openRound = null;
  }

  private static Map<String, String> configParams(Config fit, Config evaluate) {
    Map<String, String> params = new LinkedHashMap<>();
    fit.values().forEach((k, v) -> params.put("fit_config." + k, String.valueOf(v)));
    evaluate.values().forEach((k, v) -> params.put("evaluate_config." + k, String.valueOf(v)));
    if (fit.contains("local_epochs")) {
      params.put("local_epochs", String.valueOf(fit.values().get("local_epochs")));
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
    metrics.put(FIT_LEARNERS, (double) summary.fitSucceeded());
    metrics.put(FAILED_LEARNERS, (double) summary.fitFailed());
    metrics.put(EVALUATE_LEARNERS, (double) summary.evaluateSucceeded());
    metrics.put(EVALUATE_FAILED_LEARNERS, (double) summary.evaluateFailed());
    double seconds = summary.duration().toNanos() / 1e9;
    metrics.put(ROUND_DURATION, seconds);
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
   * (at most the flush timeout) for everything to be sent.
   *
   * @return where the training was tracked, with what could not be sent; null if tracking is off
   */
  public TrackingInfo trainingSucceeded(TrainingResult result, Parameters bestParameters,
      FederatedModel model) throws InterruptedException {
    if (!enabled()) {
      return null;
    }
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
      finals.put("best_round", (double) best.round());
    });
    finals.put("training_duration_s", result.duration().toNanos() / 1e9);
    // A model without accuracy has none to log: MLflow would store NaN as a real point.
    finals.values().removeIf(value -> Double.isNaN(value));
    List<TrackingStore.MetricPoint> points = new ArrayList<>();
    finals.forEach((k, v) -> points.add(new TrackingStore.MetricPoint(k, v, end, last)));
    Map<String, String> tags = new LinkedHashMap<>();
    result.best().ifPresent(best -> tags.put("flops.best_round", String.valueOf(best.round())));
    outbox.submit("log the final and best metrics to the parent run",
        () -> store.logBatch(parent.require(), points, Map.of(), tags));
    RunRef bestRun = result.best().map(best -> rounds.get(best.round())).orElse(null);
    result.best().ifPresent(best -> {
      if (bestParameters != null) {
        logModel(model, bestParameters, best, bestRun);
      } else {
        // Resumed from a checkpoint written after a later round: those parameters are gone.
        log.info("the best round {} ran before the checkpoint the training resumed from; its "
            + "model is not logged", best.round());
      }
    });
    outbox.submit("end the parent run",
        () -> store.setStatus(parent.require(), TrackingStore.RunStatus.FINISHED, end));
    return finish(bestRun);
  }

  /**
   * Ends the open round's run and the parent run as FAILED, logs the best model so far, and waits
   * for everything to be sent.
   */
  public TrackingInfo trainingFailed(Throwable cause, RoundSummary bestSoFar,
      Parameters bestParameters, FederatedModel model) throws InterruptedException {
    if (!enabled() || parent == null) {
      return null;
    }
    long end = System.currentTimeMillis();
    RunRef open = openRound;
    if (open != null) {
      outbox.submit("end run '" + open.name + "' as failed",
          () -> store.setStatus(open.require(), TrackingStore.RunStatus.FAILED, end));
    }
    String message = String.valueOf(cause.getMessage());
    Map<String, String> tags = Map.of("flops.error", cause.getClass().getName() + ": "
        + (message.length() > 4000 ? message.substring(0, 4000) : message));
    outbox.submit("tag the parent run with the failure",
        () -> store.logBatch(parent.require(), List.of(), Map.of(), tags));
    RunRef bestRun = bestSoFar == null ? null : rounds.get(bestSoFar.round());
    if (bestSoFar != null && bestParameters != null) {
      logModel(model, bestParameters, bestSoFar, bestRun);
    }
    outbox.submit("end the parent run as failed",
        () -> store.setStatus(parent.require(), TrackingStore.RunStatus.FAILED, end));
    return finish(bestRun);
  }

  private void logModel(FederatedModel model, Parameters parameters, RoundSummary best,
      RunRef bestRun) {
    ModelArtifacts artifacts;
    try {
      scratch = Files.createTempDirectory("flops-model-");
      Map<String, Double> bestMetrics = new LinkedHashMap<>();
      bestMetrics.put(LOSS, best.loss());
      bestMetrics.put(ACCURACY, best.accuracy());
      bestMetrics.values().removeIf(value -> Double.isNaN(value));
      artifacts = ModelArtifacts.write(model, parameters, best.round(), bestMetrics, scratch);
    } catch (IOException | RuntimeException e) {
      log.warn("the best model (round {}) could not be written for tracking: {}", best.round(),
          e.toString());
      return;
    }
    List<RunRef> targets = new ArrayList<>();
    if (bestRun != null) {
      targets.add(bestRun);
    }
    targets.add(parent);
    for (RunRef target : targets) {
      String what = "the best model (round " + best.round() + ") to run '" + target.name + "'";
      outbox.submit("log " + what, () -> {
        String runId = target.require();
        if (target.artifactUri == null) {
          target.artifactUri = store.artifactUri(requireExperiment(), runId);
        }
        ModelArtifacts.Logged logged = artifacts.describeFor(runId, scratch.resolve(runId));
        for (Path file : logged.files()) {
          store.logArtifact(runId, target.artifactUri, ModelArtifacts.ARTIFACT_PATH, file);
        }
        store.logBatch(runId, List.of(), Map.of(),
            Map.of("mlflow.log-model.history", logged.historyTag()));
      });
    }
  }

  private TrackingInfo finish(RunRef bestRun) throws InterruptedException {
    List<String> unsent = outbox.flush(tracking.flushTimeout());
    if (!unsent.isEmpty()) {
      log.warn("{} tracking call(s) could not be sent to MLflow at {}; the training result is "
          + "complete in the aggregator's summary: {}", unsent.size(), store.uri(),
          String.join("; ", unsent));
    } else {
      log.info("tracked in MLflow at {}: experiment {}, parent run {}", store.uri(), experimentId,
          parent.id);
    }
    deleteScratch();
    return new TrackingInfo(store.uri(), experimentId, parent.id,
        bestRun == null ? null : bestRun.id, unsent);
  }

  private void deleteScratch() {
    if (scratch == null) {
      return;
    }
    try (Stream<Path> files = Files.walk(scratch)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      log.debug("could not delete {}: {}", scratch, e.toString());
    }
    scratch = null;
  }

  @Override
  public void close() {
    if (outbox != null) {
      outbox.close();
      store.close();
      deleteScratch();
    }
  }
}
