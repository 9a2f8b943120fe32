package dev.flops.api;

import java.util.Map;

/**
 * The federated evaluation of one round: the example-weighted means of the learners' results.
 *
 * @param loss the example-weighted mean loss
 * @param numExamples the number of examples evaluated across all learners
 * @param learners the number of learners whose results were averaged
 * @param metrics example-weighted means of the reported metrics, including
 *     {@value Metrics#ACCURACY} where learners reported it
 */
public record Evaluation(double loss, long numExamples, int learners, Map<String, Double> metrics) {

  /**
   * Validates the arguments.
   *
   * @throws IllegalArgumentException if a count is negative
   * @throws NullPointerException if the metrics map is null
   */
  public Evaluation {
    if (numExamples < 0 || learners < 0) {
      throw new IllegalArgumentException(
          "counts must not be negative: numExamples=" + numExamples + ", learners=" + learners);
    }
    metrics = Metrics.copyOf(metrics);
  }

  /**
   * Returns the federated accuracy.
   *
   * @return the example-weighted accuracy, or NaN if no learner reported one
   */
  public double accuracy() {
    return metrics.getOrDefault(Metrics.ACCURACY, Double.NaN);
  }
}
