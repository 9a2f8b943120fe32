package dev.flops.aggregator;

import dev.flops.api.Metrics;
import dev.flops.api.RoundRanking;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The command-line options {@code --best-metric} and {@code --best-mode}, which say how the best
 * round is chosen ({@link TrainingPlan.Builder#bestRound}), as a picocli mixin for any aggregator
 * main: {@code @Mixin BestRoundOptions bestRound;} then {@code bestRound.applyTo(builder)}.
 */
public final class BestRoundOptions {

  @Option(names = "--best-metric", paramLabel = "NAME",
      description = "Federated metric the best round is chosen by: loss or a metric the learners "
          + "report, e.g. mse (default: accuracy, and the lowest loss where none is reported).")
  String metric;

  @Option(names = "--best-mode", paramLabel = "max|min",
      description = "Whether a higher (max) or lower (min) --best-metric is better; needed for "
          + "metrics other than accuracy (max) and loss (min).")
  String mode;

  /**
   * Sets the ranking on a training plan's builder.
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException as {@link #ranking()} does
   */
  public TrainingPlan.Builder applyTo(TrainingPlan.Builder builder) {
    return builder.bestRound(ranking());
  }

  /**
   * Resolves the options: accuracy is maximised and loss minimised unless {@code --best-mode}
   * says otherwise; any other metric needs its mode.
   *
   * @return the ranking; {@link RoundRanking#defaults()} without options
   * @throws IllegalArgumentException if the mode is not max or min, is missing for a metric whose
   *     direction is not known, is given without a metric, or the metric name is invalid
   */
  public RoundRanking ranking() {
    return ranking(metric, mode);
  }

  static RoundRanking ranking(String metric, String mode) {
    String goal = mode == null ? null : mode.toLowerCase(Locale.ROOT);
    if (goal != null && !goal.equals("max") && !goal.equals("min")) {
      throw new IllegalArgumentException("--best-mode must be max (higher is better) or min "
          + "(lower is better) but was '" + mode + "'");
    }
    if (metric == null) {
      if (goal != null) {
        throw new IllegalArgumentException("--best-mode " + goal + " needs --best-metric: say "
            + "which metric, e.g. --best-metric mse --best-mode min");
      }
      return RoundRanking.defaults();
    }
    if (goal == null) {
      if (metric.equals(Metrics.ACCURACY)) {
        goal = "max";
      } else if (metric.equals(RoundRanking.LOSS)) {
        goal = "min";
      } else {
        throw new IllegalArgumentException("--best-metric " + metric + " needs --best-mode max "
            + "(higher is better) or min (lower is better)");
      }
    }
    return goal.equals("max") ? RoundRanking.maximize(metric) : RoundRanking.minimize(metric);
  }
}
