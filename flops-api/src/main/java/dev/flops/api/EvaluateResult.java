package dev.flops.api;

import java.util.Map;

/**
 * What a learner's local evaluation returns.
 *
 * @param loss the mean loss over the evaluated examples; finite (see {@link ReportedNumbers})
 * @param numExamples how many examples were evaluated; the weight of this result, 1 to
 *     {@value ReportedNumbers#MAX_EXAMPLES}
 * @param metrics metrics by name, finite values; by default rounds are ranked by
 *     {@value Metrics#ACCURACY} (see {@link RoundRanking})
 */
public record EvaluateResult(double loss, long numExamples, Map<String, Double> metrics) {

  /**
   * Validates the result by the rules of {@link ReportedNumbers}.
   *
   * @throws IllegalArgumentException if the loss or a metric is not finite or too large, if
   *     {@code numExamples} is outside 1 to {@value ReportedNumbers#MAX_EXAMPLES}, or a metric
   *     name is not a valid MLflow metric name; the message names the field and the value
   * @throws NullPointerException if the metrics map or a value in it is null
   */
  public EvaluateResult {
    ReportedNumbers.loss(loss);
    ReportedNumbers.numExamples(numExamples);
    metrics = ReportedNumbers.metrics(Metrics.copyOf(metrics));
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
