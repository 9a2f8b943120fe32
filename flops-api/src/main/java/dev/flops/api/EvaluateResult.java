package dev.flops.api;

import java.util.Map;

/**
 * What a learner's local evaluation returns.
 *
 * @param loss the mean loss over the evaluated examples
 * @param numExamples how many examples were evaluated; the weight of this result
 * @param metrics metrics by name; {@value Metrics#ACCURACY} is the one flops ranks rounds by
 */
public record EvaluateResult(double loss, long numExamples, Map<String, Double> metrics) {

  /**
   * Validates the result.
   *
   * @throws IllegalArgumentException if {@code numExamples} is not positive
   * @throws NullPointerException if the metrics map or a value in it is null
   */
  public EvaluateResult {
    if (numExamples < 1) {
      throw new IllegalArgumentException(
          "numExamples must be at least 1 (it weights the result) but was " + numExamples);
    }
    metrics = Metrics.copyOf(metrics);
  }

  /**
   * Creates a result with loss and accuracy.
   *
   * @param loss the mean loss
   * @param accuracy the fraction of correct predictions, in [0, 1]
   * @param numExamples how many examples were evaluated
   * @return the result
   */
  public static EvaluateResult of(double loss, double accuracy, long numExamples) {
    return new EvaluateResult(loss, numExamples, Map.of(Metrics.ACCURACY, accuracy));
  }

  /**
   * Returns the accuracy metric.
   *
   * @return the accuracy, or NaN if the learner did not report one
   */
  public double accuracy() {
    return metrics.getOrDefault(Metrics.ACCURACY, Double.NaN);
  }
}
