package dev.flops.aggregator;

import java.util.Map;

/**
 * Stores an application's own entries in the aggregator's checkpoints and hands them back on
 * resume: the ids a tracking integration needs to continue the same experiment and run after a
 * crash, for example.
 *
 * <pre>{@code
 * TrainingPlan.builder()
 *     .checkpointDirectory(Path.of("checkpoints"))
 *     .resume(true)
 *     .checkpointExtras(new CheckpointExtras() {
 *       public Map<String, String> save(int round) {
 *         return Map.of("mlflow.experiment_id", experimentId, "mlflow.parent_run_id", runId);
 *       }
 *       public void restore(Map<String, String> extras, int lastCompletedRound) {
 *         experimentId = extras.get("mlflow.experiment_id");
 *         runId = extras.get("mlflow.parent_run_id");
 *       }
 *     })
 * }</pre>
 *
 * <p>Entries are strings; prefix their keys with the integration's name, since the entries of every
 * registered instance share one map (on a clash the instance registered last wins, with a
 * warning). Never store a secret: checkpoints are copied and backed up like any file. Both
 * methods are called from the aggregator's round thread; an
 * exception they throw is logged and contained, as for observers.
 */
public interface CheckpointExtras {

  /**
   * Returns the entries to store in the checkpoint written after {@code round}. Called after the
   * round completed, before the checkpoint is written and before observers hear of the round.
   *
   * @param round the round just completed, from 1
   * @return the entries; none is an empty map
   */
  Map<String, String> save(int round);

  /**
   * Receives the entries of the checkpoint an aggregator resumes from. Called once, before the
   * aggregator starts listening and before {@code onTrainingStarted}, with the entries of every
   * registered instance. Not called when there is no checkpoint to resume from.
   *
   * @param extras the entries stored with the checkpoint
   * @param lastCompletedRound the round the checkpoint was written after; training continues with
   *     the next one
   */
  default void restore(Map<String, String> extras, int lastCompletedRound) {}
}
