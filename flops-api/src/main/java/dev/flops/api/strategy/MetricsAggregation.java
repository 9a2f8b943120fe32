package dev.flops.api.strategy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Combines the metrics that learners reported in one round into the round's metrics: Flower's
 * {@code fit_metrics_aggregation_fn} and {@code evaluate_metrics_aggregation_fn}. Set them with
 * {@link FedAvg.Builder#fitMetricsAggregation} and {@link FedAvg.Builder#evaluateMetricsAggregation};
 * the default is {@link #weightedMean()}.
 *
 * <pre>{@code
 * // the worst learner's accuracy beside the mean
 * MetricsAggregation withWorst = reports -> {
 *   Map<String, Double> metrics = new LinkedHashMap<>(MetricsAggregation.weightedMean().aggregate(reports));
 *   reports.stream().mapToDouble(r -> r.metrics().getOrDefault("accuracy", 1.0)).min()
 *       .ifPresent(worst -> metrics.put("accuracy_min", worst));
 *   return metrics;
 * };
 * }</pre>
 *
 * <p>Called on the aggregator's training thread once per round and phase. An exception thrown by the
 * fit function costs that round its aggregate (the aggregator logs it at ERROR and keeps the global
 * parameters); one thrown by the evaluate function fails the training.
 */
@FunctionalInterface
public interface MetricsAggregation {

  /**
   * Combines the round's reports.
   *
   * @param reports one per accepted result, in arrival order; never empty
   * @return finite values by name (MLflow's metric-name rules apply when tracked); not null
   */
  Map<String, Double> aggregate(List<ReportedMetrics> reports);

  /**
   * Returns the default: each metric's mean over the learners that reported it, weighted by their
   * example counts.
   *
   * @return the function
   */
  static MetricsAggregation weightedMean() {
    return reports -> {
      Map<String, double[]> sums = new TreeMap<>();
      for (ReportedMetrics report : reports) {
        report.metrics().forEach((name, value) -> {
          double[] sum = sums.computeIfAbsent(name, k -> new double[2]);
          sum[0] += value * report.numExamples();
          sum[1] += report.numExamples();
        });
      }
      Map<String, Double> metrics = new LinkedHashMap<>();
      sums.forEach((name, sum) -> metrics.put(name, sum[0] / sum[1]));
      return metrics;
    };
  }
}
