package dev.flops.api;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * How the best round is chosen: by one federated metric, higher or lower being better, as MLflow
 * and early stopping let users say ({@code mode="max"} / {@code "min"}). The best round's model is
 * the one tracked, logged at the end and kept in checkpoints.
 *
 * <p>The rule, precisely: a round without a federated evaluation is never the best. Among evaluated
 * rounds, one that reports the metric beats one that does not; two that both report it are ordered
 * by its value; a tie, or two rounds that both lack the metric, goes to the lower federated loss;
 * a tie on that keeps the earlier round. The metric {@value #LOSS} is the federated loss itself.
 * So the default, {@code maximize("accuracy")}, is "highest accuracy, and the lowest loss where no
 * accuracy is reported".
 *
 * <pre>{@code
 * TrainingPlan.builder().bestRound(RoundRanking.minimize("mse"))
 * }</pre>
 *
 * <p>Immutable; safe to share between threads.
 *
 * @param metric the federated metric to rank by: {@value #LOSS} or a metric name the learners
 *     report, as {@link ReportedNumbers#metricName} allows
 * @param goal whether a higher or a lower value is better
 */
public record RoundRanking(String metric, Goal goal) {

  /** The name that ranks by the federated loss rather than a reported metric. */
  public static final String LOSS = "loss";

  /** Whether a higher or a lower value of the metric is better. */
  public enum Goal {
    /** A higher value is better (accuracy, F1). */
    MAXIMIZE,
    /** A lower value is better (loss, error rates, mse). */
    MINIMIZE
  }

  /**
   * Validates the ranking.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the metric name is not a valid metric name
   */
  public RoundRanking {
    Objects.requireNonNull(metric, "metric");
    Objects.requireNonNull(goal, "goal");
    try {
      ReportedNumbers.metricName(metric);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the best-round metric is invalid: " + e.getMessage(), e);
    }
  }

  /**
   * Ranks rounds by the highest value of {@code metric}.
   *
   * @param metric the metric, e.g. {@code accuracy} or {@code f1}
   * @return the ranking
   * @throws IllegalArgumentException if the name is not a valid metric name
   */
  public static RoundRanking maximize(String metric) {
    return new RoundRanking(metric, Goal.MAXIMIZE);
  }

  /**
   * Ranks rounds by the lowest value of {@code metric}.
   *
   * @param metric the metric, e.g. {@value #LOSS} or {@code mse}
   * @return the ranking
   * @throws IllegalArgumentException if the name is not a valid metric name
   */
  public static RoundRanking minimize(String metric) {
    return new RoundRanking(metric, Goal.MINIMIZE);
  }

  /**
   * Returns the default ranking: the highest {@value Metrics#ACCURACY}, and the lowest loss where
   * no accuracy is reported.
   *
   * @return {@code maximize("accuracy")}
   */
  public static RoundRanking defaults() {
    return maximize(Metrics.ACCURACY);
  }

  /**
   * Returns the round's value of the ranking metric.
   *
   * @param round a round
   * @return the value, or empty if the round was not evaluated or its evaluation lacks the metric
   */
  public OptionalDouble valueOf(RoundSummary round) {
    Evaluation evaluation = round.evaluation();
    if (evaluation == null) {
      return OptionalDouble.empty();
    }
    if (metric.equals(LOSS)) {
      return OptionalDouble.of(evaluation.loss());
    }
    Double value = evaluation.metrics().get(metric);
    return value == null ? OptionalDouble.empty() : OptionalDouble.of(value);
  }

  /**
   * Tells whether {@code candidate} should replace {@code best} as the best round, by the rule in
   * the class comment.
   *
   * @param candidate a round, usually the one just finished
   * @param best the best round so far, or null if there is none yet
   * @return true if the candidate is strictly better (ties keep {@code best})
   * @throws NullPointerException if {@code candidate} is null
   */
  public boolean isBetter(RoundSummary candidate, RoundSummary best) {
    if (candidate.evaluation() == null) {
      return false;
    }
    if (best == null || best.evaluation() == null) {
      return true;
    }
    OptionalDouble mine = valueOf(candidate);
    OptionalDouble theirs = valueOf(best);
    if (mine.isPresent() != theirs.isPresent()) {
      return mine.isPresent();
    }
    if (mine.isPresent() && mine.getAsDouble() != theirs.getAsDouble()) {
      return goal == Goal.MAXIMIZE
          ? mine.getAsDouble() > theirs.getAsDouble()
          : mine.getAsDouble() < theirs.getAsDouble();
    }
    return candidate.loss() < best.loss();
  }

  /**
   * Picks the best of some rounds, as a run that saw them in this order would.
   *
   * @param rounds rounds in the order they ran
   * @return the best round, or empty if no round was evaluated
   */
  public Optional<RoundSummary> best(List<RoundSummary> rounds) {
    RoundSummary best = null;
    for (RoundSummary round : rounds) {
      if (isBetter(round, best)) {
        best = round;
      }
    }
    return Optional.ofNullable(best);
  }

  /**
   * Describes the ranking for logs, e.g. "highest accuracy" or "lowest loss".
   *
   * @return the description
   */
  public String describe() {
    return (goal == Goal.MAXIMIZE ? "highest " : "lowest ") + metric;
  }

  /**
   * Says by what a given best round was chosen: the ranking's own description, or "lowest loss"
   * when the round lacks the ranking metric and won on the loss fallback.
   *
   * @param best the best round
   * @return e.g. "highest accuracy" or "lowest loss"
   */
  public String describeChoiceOf(RoundSummary best) {
    return valueOf(best).isPresent() ? describe() : "lowest " + LOSS;
  }
}
