package dev.flops.api;

import java.util.Objects;

/**
 * A result that one learner returned for a task.
 *
 * @param learnerId the id the aggregator gave the learner
 * @param result the learner's result
 * @param <T> {@link FitResult} or {@link EvaluateResult}
 */
public record LearnerResult<T>(String learnerId, T result) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if an argument is null
   */
  public LearnerResult {
    Objects.requireNonNull(learnerId, "learnerId");
    Objects.requireNonNull(result, "result");
  }
}
