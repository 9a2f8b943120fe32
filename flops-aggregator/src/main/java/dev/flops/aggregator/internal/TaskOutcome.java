package dev.flops.aggregator.internal;

import dev.flops.api.EvaluateResult;

/**
 * How a task ended.
 *
 * @param learnerId the learner that had the task
 * @param failure why it failed, or null if it succeeded
 * @param evaluation the evaluation result of a successful evaluate task, else null
 */
record TaskOutcome(String learnerId, String failure, EvaluateResult evaluation) {

  static TaskOutcome succeeded(String learnerId, EvaluateResult evaluation) {
    return new TaskOutcome(learnerId, null, evaluation);
  }

  static TaskOutcome failed(String learnerId, String reason) {
    return new TaskOutcome(learnerId, reason, null);
  }

  boolean ok() {
    return failure == null;
  }
}
