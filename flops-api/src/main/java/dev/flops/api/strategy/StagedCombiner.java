package dev.flops.api.strategy;

import dev.flops.api.Parameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The combiner of the robust strategies: stages each update on disk ({@link UpdateStaging}) and,
 * for the Krum family, first computes its squared distances to the updates staged before it, so
 * that no pass over n models is needed at the end. The strategy's rule combines the staged updates.
 *
 * <p>Not thread-safe, as {@link UpdateCombiner} is used: one thread at a time.
 */
final class StagedCombiner implements UpdateCombiner {

  /** What a strategy makes of the staged updates. */
  interface Rule {
    /**
     * Combines the staged updates.
     *
     * @param staging the round's updates, at least one
     * @param distances row {@code i}: the squared distances of update {@code i} to updates
     *     {@code 0..i-1}; empty unless distances were asked for
     * @return float32 parameters with the global structure
     * @throws IllegalStateException if the updates cannot be combined; the message says why
     */
    Parameters combine(UpdateStaging staging, List<double[]> distances);
  }

  private final String strategy;
  private final UpdateStaging staging;
  private final boolean distances;
  private final Rule rule;
  private final List<double[]> rows = new ArrayList<>();

  StagedCombiner(String strategy, UpdateStaging staging, boolean distances, Rule rule) {
    this.strategy = Objects.requireNonNull(strategy, "strategy");
    this.staging = Objects.requireNonNull(staging, "staging");
    this.distances = distances;
    this.rule = Objects.requireNonNull(rule, "rule");
  }

  /**
   * Makes a round attempt's combiner whose file, {@code <strategy>-round-<round>-*.f32} in the
   * directory, is created when the first update arrives.
   */
  static StagedCombiner create(String strategy, Path directory, int round, Parameters global,
      boolean distances, Rule rule) {
    UpdateStaging staging = new UpdateStaging(directory,
        strategy.toLowerCase(Locale.ROOT) + "-round-" + round + "-", global,
        UpdateStaging.DEFAULT_BLOCK_VALUES);
    return new StagedCombiner(strategy, staging, distances, rule);
  }

  /** The distances are computed before staging, so a failure leaves both as they were. */
  @Override
  public void add(BorrowedUpdate update) {
    double[] row = distances ? staging.squaredDistancesTo(update) : null;
    staging.stage(update);
    if (distances) {
      rows.add(row);
    }
  }

  @Override
  public int count() {
    return staging.count();
  }

  @Override
  public Parameters combine() {
    RobustRules.requireUpdates(strategy, staging.count());
    return rule.combine(staging, rows);
  }

  /** Deletes the staged file. */
  @Override
  public void close() {
    staging.close();
  }
}
