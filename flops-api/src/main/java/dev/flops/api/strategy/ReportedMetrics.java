package dev.flops.api.strategy;

import dev.flops.api.Metrics;
import java.util.Map;
import java.util.Objects;

/**
 * The metrics one learner reported with a fit or evaluate result, with its example count: the
 * input of a {@link MetricsAggregation} (Flower's {@code (num_examples, metrics)} pair).
 *
 * @param learnerId the id the aggregator gave the learner
 * @param numExamples the examples the learner trained or evaluated on, at least 1
 * @param metrics finite values by name; copied
 */
public record ReportedMetrics(String learnerId, long numExamples, Map<String, Double> metrics) {

  /**
   * Validates the report.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code numExamples} is below 1
   */
  public ReportedMetrics {
    Objects.requireNonNull(learnerId, "learnerId");
    if (numExamples < 1) {
      throw new IllegalArgumentException(
          "numExamples must be at least 1 but was " + numExamples + " for " + learnerId);
    }
    metrics = Metrics.copyOf(metrics);
  }
}
