package dev.flops.aggregator;

import dev.flops.aggregator.internal.Checkpoint;
import dev.flops.aggregator.internal.CheckpointStore;
import dev.flops.aggregator.internal.FederationService;
import dev.flops.aggregator.internal.LoopClock;
import dev.flops.aggregator.internal.RoundLoop;
import dev.flops.aggregator.internal.tracking.SystemMetrics;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederatedModel;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.Strategy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call of {@link Aggregator#train}: what lives as long as one training (its tracker, its
 * checkpoint store, its round loop) over what lives as long as the server (the transport, the
 * model copy, the kernel). Used once, on the training's thread.
 */
final class TrainingRun {
  private static final Logger log = LoggerFactory.getLogger(TrainingRun.class);

  /** Checkpoint extras under which a training keeps its MLflow ids. */
  static final String TRACKING_EXPERIMENT = "flops.mlflow.experiment_id";
  static final String TRACKING_PARENT_RUN = "flops.mlflow.parent_run_id";
  static final String TRACKING_ROUND_RUN = "flops.mlflow.round_run_id.";

  private final TrainingPlan plan;
  private final Strategy strategy;
  private final FederationService service;
  private final FederatedModel model;
  private final AveragingKernel kernel;
  private final String modelName;
  private final Duration progressInterval;
  /** Told the tracker in use (null at the end), so that a close mid-training can flush it. */
  private final Consumer<Tracker> trackerInUse;
  private Tracker tracker;
  private CheckpointStore checkpoints;
  private Checkpoint resumeFrom;

  TrainingRun(TrainingPlan plan, Strategy strategy, FederationService service,
      FederatedModel model, AveragingKernel kernel, String modelName, Duration progressInterval,
      Consumer<Tracker> trackerInUse) {
    this.plan = plan;
    this.strategy = strategy;
    this.service = service;
    this.model = model;
    this.kernel = kernel;
    this.modelName = modelName;
    this.progressInterval = progressInterval;
    this.trackerInUse = trackerInUse;
  }

  /**
   * Runs the training.
   *
   * @throws TrainingException if it stops before its last round or its checkpoint cannot be used
   */
  TrainingResult run() throws InterruptedException {
    // The checkpoint first: a refused one (the caller's settings, a corrupt file) must leave no
    // tracking run, directory or lock behind.
    try {
      if (plan.checkpointDirectory().isPresent()) {
        openCheckpoints(plan.checkpointDirectory().get());
      }
    } catch (IOException e) {
      closeCheckpoints();
      throw new TrainingException(e.getMessage(), e);
    } catch (RuntimeException e) {
      closeCheckpoints();
      throw e;
    }
    tracker = Tracker.open(resumeFrom == null ? plan.tracking() : trackingAfter(resumeFrom),
        "flops-" + modelName);
    trackerInUse.accept(tracker);
    try {
      RoundLoop loop = new RoundLoop(service, plan, strategy, model, kernel, LoopClock.SYSTEM)
          .progressEvery(progressInterval)
          .tracking(tracker, new SystemMetrics(kernel instanceof Nd4jAveraging), modelName);
      if (checkpoints != null) {
        List<CheckpointExtras> extras = new ArrayList<>();
        extras.add(trackingIds);
        extras.addAll(plan.checkpointExtras());
        loop.checkpointTo(checkpoints, extras);
        if (resumeFrom != null) {
          loop.resumeFrom(resumeFrom);
        }
      }
      return loop.run();
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      throw new TrainingException("federated training failed: " + e.getMessage(), e);
    } finally {
      end();
    }
  }

  private void end() {
    trackerInUse.accept(null);
    tracker.close();
    closeCheckpoints();
  }

  /**
   * Locks the checkpoint directory and, to resume, loads the checkpoint into the model copy, the
   * strategy, the learner identities and the {@link CheckpointExtras}.
   */
  private void openCheckpoints(Path directory) throws IOException {
    CheckpointStore store = CheckpointStore.open(directory);
    try {
      if (!plan.resume()) {
        if (Files.exists(store.file())) {
          throw new IllegalStateException(String.format("the checkpoint directory %s already "
              + "holds a checkpoint (%s); resume from it with resume(true) (--resume), or give "
              + "a new directory to start over", directory, store.file().getFileName()));
        }
      } else {
        Checkpoint checkpoint = store.read(model.getParameters()).orElse(null);
        if (checkpoint == null) {
          log.info("no checkpoint in {} yet: training starts from round 1", directory);
        } else {
          strategy.restoreState(checkpoint.strategyState());
          model.setParameters(checkpoint.parameters());
          service.restoreIdentities(checkpoint.learners());
          for (CheckpointExtras extras : plan.checkpointExtras()) {
            try {
              extras.restore(checkpoint.extras(), checkpoint.round());
            } catch (RuntimeException e) {
              log.warn("CheckpointExtras {} threw on restore; training goes on",
                  extras.getClass().getName(), e);
            }
          }
          log.info("loaded the checkpoint of round {} from {}", checkpoint.round(), store.file());
          resumeFrom = checkpoint;
        }
      }
    } catch (IOException | RuntimeException e) {
      try {
        store.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    checkpoints = store;
  }

  /** Stores the MLflow ids in every checkpoint, so that a resumed training continues its runs. */
  private final CheckpointExtras trackingIds = round -> {
    Map<String, String> ids = new LinkedHashMap<>();
    if (tracker.experimentId() != null && tracker.parentRunId() != null) {
      ids.put(TRACKING_EXPERIMENT, tracker.experimentId());
      ids.put(TRACKING_PARENT_RUN, tracker.parentRunId());
      tracker.roundRunIds().forEach((r, id) -> ids.put(TRACKING_ROUND_RUN + r, id));
    }
    return ids;
  };

  /**
   * The tracking of a resumed training: it continues the MLflow runs of the checkpointed one,
   * unless tracking is off or the application already said which run to resume.
   */
  private Tracking trackingAfter(Checkpoint checkpoint) {
    Map<String, String> extras = checkpoint.extras();
    String experiment = extras.get(TRACKING_EXPERIMENT);
    String parent = extras.get(TRACKING_PARENT_RUN);
    Tracking tracking = plan.tracking();
    if (!tracking.enabled() || experiment == null || parent == null
        || tracking.resumeParentRunId().isPresent()) {
      return tracking;
    }
    Map<Integer, String> roundRuns = new TreeMap<>();
    extras.forEach((key, id) -> {
      if (key.startsWith(TRACKING_ROUND_RUN)) {
        try {
          roundRuns.put(Integer.parseInt(key.substring(TRACKING_ROUND_RUN.length())), id);
        } catch (NumberFormatException e) {
          log.warn("ignored the checkpoint entry '{}': not a round number", key);
        }
      }
    });
    return tracking.resume(experiment, parent, roundRuns);
  }

  private void closeCheckpoints() {
    if (checkpoints != null) {
      try {
        checkpoints.close();
      } catch (IOException e) {
        log.warn("could not release the checkpoint directory lock: {}", e.toString());
      }
      checkpoints = null;
    }
  }
}
