package dev.flops.aggregator.internal;

import dev.flops.api.EvaluateResult;
import dev.flops.api.LearnerFailure;

/**
 * How a task ended.
 *
 * @param learnerId the learner that had the task
 * @param failure why it failed, or null if it succeeded
 * @param kind what kind of failure, or null if it succeeded
 * @param evaluation the evaluation result of a successful evaluate task, else null
 */
public record TaskOutcome(String learnerId, String failure, LearnerFailure.Kind kind,
    EvaluateResult evaluation) {

  static TaskOutcome succeeded(String learnerId, EvaluateResult evaluation) {
    return new TaskOutcome(learnerId, null, null, evaluation);
  }

  static TaskOutcome failed(String learnerId, LearnerFailure.Kind kind, String reason) {
    return new TaskOutcome(learnerId, reason, kind, null);
  }

  public boolean ok() {
    return failure == null;
  }
}
