package dev.flops.api.strategy;

import dev.flops.api.Config;
import java.util.Objects;

/**
 * A task for one learner in one round.
 *
 * @param learnerId the learner that runs the task
 * @param config the configuration it receives
 */
public record Instruction(String learnerId, Config config) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if an argument is null
   */
  public Instruction {
    Objects.requireNonNull(learnerId, "learnerId");
    Objects.requireNonNull(config, "config");
  }
}
