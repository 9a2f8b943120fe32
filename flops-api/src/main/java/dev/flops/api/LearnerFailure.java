package dev.flops.api;

import java.util.Objects;

/**
 * A task that a learner did not complete: it failed, its update was rejected, it disconnected or it
 * ran past the round timeout.
 *
 * @param learnerId the id the aggregator gave the learner
 * @param reason what went wrong, for logs and observers
 */
public record LearnerFailure(String learnerId, String reason) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if an argument is null
   */
  public LearnerFailure {
    Objects.requireNonNull(learnerId, "learnerId");
    Objects.requireNonNull(reason, "reason");
  }
}
