package dev.flops.api;

import java.time.Instant;
import java.util.Objects;

/**
 * The start of a federated training.
 *
 * @param strategy a description of the strategy and its knobs
 * @param rounds the number of rounds planned
 * @param startedAt when training started
 */
public record TrainingStarted(String strategy, int rounds, Instant startedAt) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if an argument is null
   */
  public TrainingStarted {
    Objects.requireNonNull(strategy, "strategy");
    Objects.requireNonNull(startedAt, "startedAt");
  }
}
