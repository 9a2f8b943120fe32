package dev.flops.api;

import java.util.Map;
import java.util.Objects;

/**
 * What a learner's local training returns.
 *
 * @param parameters the updated parameters
 * @param numExamples how many examples the training used; the weight of this update in FedAvg, 1
 *     to {@value ReportedNumbers#MAX_EXAMPLES}
 * @param metrics training metrics by name (e.g. {@code train_loss}), finite values (see
 *     {@link ReportedNumbers}); copied
 */
public record FitResult(Parameters parameters, long numExamples, Map<String, Double> metrics) {

  /**
   * Validates the result.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code numExamples} is outside 1 to
   *     {@value ReportedNumbers#MAX_EXAMPLES}, or a metric breaks a rule of
   *     {@link ReportedNumbers}; the message names the field and the value
   */
  public FitResult {
    Objects.requireNonNull(parameters, "parameters");
    ReportedNumbers.numExamples(numExamples);
    metrics = ReportedNumbers.metrics(Metrics.copyOf(metrics));
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
