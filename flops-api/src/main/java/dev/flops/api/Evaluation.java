package dev.flops.api;

import java.util.Map;

/**
 * The federated evaluation of one round: the example-weighted means of the learners' results.
 *
 * @param loss the example-weighted mean loss; finite
 * @param numExamples the number of examples evaluated across all learners
 * @param learners the number of learners whose results were averaged
 * @param metrics example-weighted means of the reported metrics, including
 *     {@value Metrics#ACCURACY} where learners reported it; finite values, names as
 *     {@link ReportedNumbers#metricName} requires
 */
public record Evaluation(double loss, long numExamples, int learners, Map<String, Double> metrics) {

  /**
   * Validates the arguments.
   *
   * @throws IllegalArgumentException if a count is negative, the loss or a metric is NaN or
   *     infinite, or a metric name is invalid: a non-finite aggregate must never reach a round's
   *     summary, the best round or tracking
   * @throws NullPointerException if the metrics map is null
   */
  public Evaluation {
    if (numExamples < 0 || learners < 0) {
      throw new IllegalArgumentException(
          "counts must not be negative: numExamples=" + numExamples + ", learners=" + learners);
    }
    if (!Double.isFinite(loss)) {
      throw new IllegalArgumentException("the federated loss is " + loss + "; an evaluation "
          + "holds finite values only (check the strategy's aggregation)");
    }
    metrics = Metrics.copyOf(metrics);
    metrics.forEach((name, value) -> {
      ReportedNumbers.metricName(name);
      if (!Double.isFinite(value)) {
        throw new IllegalArgumentException("the federated metric '" + name + "' is " + value
            + "; an evaluation holds finite values only (check the strategy's aggregation)");
      }
    });
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
