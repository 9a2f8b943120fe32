package dev.flops.api;

import java.util.Map;
import java.util.Objects;

/**
 * What a learner's local training returns.
 *
 * @param parameters the updated parameters
 * @param numExamples how many examples the training used; the weight of this update in FedAvg
 * @param metrics training metrics by name (e.g. {@code train_loss}); copied
 */
public record FitResult(Parameters parameters, long numExamples, Map<String, Double> metrics) {

  /**
   * Validates the result.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code numExamples} is not positive
   */
  public FitResult {
    Objects.requireNonNull(parameters, "parameters");
    if (numExamples < 1) {
      throw new IllegalArgumentException(
          "numExamples must be at least 1 (it weights the update) but was " + numExamples);
    }
    metrics = Metrics.copyOf(metrics);
  }

  /**
   * Creates a result without metrics.
   *
   * @param parameters the updated parameters
   * @param numExamples how many examples the training used
   * @return the result
   */
  public static FitResult of(Parameters parameters, long numExamples) {
    return new FitResult(parameters, numExamples, Map.of());
  }
}
