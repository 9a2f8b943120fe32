package dev.flops.api.strategy;

import dev.flops.api.Metrics;
import dev.flops.api.Parameters;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a round's fit aggregation produced.
 *
 * @param parameters the new global parameters, or empty to keep the current ones (no update was
 *     accepted, or the strategy decided against this round's updates)
 * @param updates how many updates were aggregated, at least 0
 * @param totalExamples the sum of those updates' example counts (their total weight in FedAvg),
 *     at least 0
 * @param metrics the aggregated fit metrics (e.g. the example-weighted mean {@code train_loss}),
 *     finite values by name; copied
 */
public record AggregationResult(
    Optional<Parameters> parameters, int updates, long totalExamples, Map<String, Double> metrics) {

  /**
   * Validates the result.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a count is negative
   */
  public AggregationResult {
    Objects.requireNonNull(parameters, "parameters");
    if (updates < 0 || totalExamples < 0) {
      throw new IllegalArgumentException("updates and totalExamples must not be negative but were "
          + updates + " and " + totalExamples);
    }
    metrics = Metrics.copyOf(metrics);
  }

  /**
   * A result that replaces the global parameters.
   *
   * @param parameters the new global parameters
   * @param updates how many updates were aggregated
   * @param totalExamples their total example count
   * @param metrics the aggregated fit metrics
   * @return the result
   */
  public static AggregationResult of(
      Parameters parameters, int updates, long totalExamples, Map<String, Double> metrics) {
    return new AggregationResult(Optional.of(parameters), updates, totalExamples, metrics);
  }

  /**
   * A result that keeps the current global parameters.
   *
   * @param updates how many updates were accepted (and not used)
   * @param totalExamples their total example count
   * @return the result, without metrics
   */
  public static AggregationResult keep(int updates, long totalExamples) {
    return new AggregationResult(Optional.empty(), updates, totalExamples, Map.of());
  }
}
