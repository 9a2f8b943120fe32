package dev.flops.aggregator.internal;

import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.api.Config;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a plan that {@linkplain TrainingPlan#announcesRounds() announces rounds} adds to every
 * task's config: the round, and the round's MLflow run so that a cluster aggregator nests its own
 * runs under it. The run id is read once per round: the tracker binds it on its outbox thread, and
 * waiting for it at every task of a round whose backend is down would cost each task the wait.
 *
 * <p>Used from the round loop's thread only.
 */
final class RoundAnnouncement {
  /** Long enough for the file store or a server on the LAN, short against a round. */
  static final Duration RUN_ID_WAIT = Duration.ofMillis(500);

  private int round;
  private Map<String, Object> entries = Map.of();

  /**
   * Returns {@code config} with the round's entries, or {@code config} itself if the plan does not
   * announce rounds.
   */
  Config apply(TrainingPlan plan, Tracker tracker, int round, Config config)
      throws InterruptedException {
    if (!plan.announcesRounds()) {
      return config;
    }
    if (round != this.round || entries.isEmpty()) {
      entries = entries(plan, tracker, round);
      this.round = round;
    }
    Map<String, Object> values = new LinkedHashMap<>(config.values());
    values.putAll(entries);
    return new Config(values);
  }

  private static Map<String, Object> entries(TrainingPlan plan, Tracker tracker, int round)
      throws InterruptedException {
    Map<String, Object> entries = new LinkedHashMap<>();
    entries.put(TrainingPlan.ROUND_KEY, (long) round);
    String runId = tracker.awaitRoundRunId(round, RUN_ID_WAIT);
    String experimentId = tracker.experimentId();
    if (runId != null && experimentId != null) {
      entries.put(TrainingPlan.EXPERIMENT_ID_KEY, experimentId);
      entries.put(TrainingPlan.PARENT_RUN_ID_KEY, runId);
      entries.put(TrainingPlan.TRACKING_URI_KEY, plan.tracking().trackingUri());
    }
    return entries;
  }
}
