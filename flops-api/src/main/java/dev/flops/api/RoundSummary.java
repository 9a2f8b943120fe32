package dev.flops.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What happened in one round.
 *
 * @param round the round number, from 1
 * @param fitSucceeded learners whose updates were accepted into the aggregate
 * @param fitFailed learners whose fit task failed, was rejected or timed out
 * @param evaluateSucceeded learners whose evaluation results were aggregated
 * @param evaluateFailed learners whose evaluate task failed or timed out
 * @param evaluation the federated evaluation, or null if no learner evaluated
 * @param duration wall time of the round's fit and evaluate phases, without the time spent
 *     waiting for enough learners to be connected (that is {@code learnerWait})
 * @param failures what went wrong, one entry per failed task
 * @param resources the traffic and aggregator resources of the round
 * @param learnerWait wall time the round spent waiting for the training plan's minimum of
 *     connected learners before its phases (and their retries) could start; zero or more
 * @param fitExamples the examples the aggregated updates were trained on: their total weight in
 *     FedAvg; zero or more
 * @param fitMetrics the strategy's aggregate of the learners' fit metrics (FedAvg: example-weighted
 *     means, e.g. {@code train_loss}); copied, possibly empty
 * @param centralEvaluation the strategy's evaluation of the new global parameters on the
 *     aggregator itself ({@link dev.flops.api.strategy.Strategy#evaluate}), or null if it has none
 */
public record RoundSummary(
    int round,
    int fitSucceeded,
    int fitFailed,
    int evaluateSucceeded,
    int evaluateFailed,
    Evaluation evaluation,
    Duration duration,
    List<LearnerFailure> failures,
    RoundResources resources,
    Duration learnerWait,
    long fitExamples,
    Map<String, Double> fitMetrics,
    EvaluateResult centralEvaluation) {

  /**
   * Validates the arguments.
   *
   * @throws IllegalArgumentException if the round is below 1, a count is negative or a duration
   *     is negative
   * @throws NullPointerException if a duration, the failure list or the resources are null
   */
  public RoundSummary {
    if (round < 1) {
      throw new IllegalArgumentException("round must be at least 1 but was " + round);
    }
    if (fitSucceeded < 0 || fitFailed < 0 || evaluateSucceeded < 0 || evaluateFailed < 0) {
      throw new IllegalArgumentException("learner counts must not be negative");
    }
    Objects.requireNonNull(duration, "duration");
    failures = List.copyOf(failures);
    Objects.requireNonNull(resources, "resources");
    Objects.requireNonNull(learnerWait, "learnerWait");
    if (duration.isNegative() || learnerWait.isNegative()) {
      throw new IllegalArgumentException("durations must not be negative but duration was "
          + duration + " and learnerWait " + learnerWait);
    }
    if (fitExamples < 0) {
      throw new IllegalArgumentException("fitExamples must not be negative but was " + fitExamples);
    }
    fitMetrics = Metrics.copyOf(fitMetrics);
  }

  /**
   * Creates a summary without fit totals or central evaluation.
   *
   * @param round the round number, from 1
   * @param fitSucceeded learners whose updates were accepted into the aggregate
   * @param fitFailed learners whose fit task failed, was rejected or timed out
   * @param evaluateSucceeded learners whose evaluation results were aggregated
   * @param evaluateFailed learners whose evaluate task failed or timed out
   * @param evaluation the federated evaluation, or null if no learner evaluated
   * @param duration wall time of the round's fit and evaluate phases
   * @param failures what went wrong, one entry per failed task
   * @param resources the traffic and aggregator resources of the round
   * @param learnerWait wall time the round spent waiting for learners
   * @throws IllegalArgumentException if the round is below 1 or a count or a duration is negative
   * @throws NullPointerException if a duration, the failure list or the resources are null
   */
  public RoundSummary(int round, int fitSucceeded, int fitFailed, int evaluateSucceeded,
      int evaluateFailed, Evaluation evaluation, Duration duration, List<LearnerFailure> failures,
      RoundResources resources, Duration learnerWait) {
    this(round, fitSucceeded, fitFailed, evaluateSucceeded, evaluateFailed, evaluation, duration,
        failures, resources, learnerWait, 0, Map.of(), null);
  }

  /**
   * Returns the central evaluation.
   *
   * @return the aggregator's own evaluation of the round's global parameters, or empty
   */
  public Optional<EvaluateResult> central() {
    return Optional.ofNullable(centralEvaluation);
  }

  /**
   * Creates a summary of a round that did not wait for learners.
   *
   * @param round the round number, from 1
   * @param fitSucceeded learners whose updates were accepted into the aggregate
   * @param fitFailed learners whose fit task failed, was rejected or timed out
   * @param evaluateSucceeded learners whose evaluation results were aggregated
   * @param evaluateFailed learners whose evaluate task failed or timed out
   * @param evaluation the federated evaluation, or null if no learner evaluated
   * @param duration wall time of the round's fit and evaluate phases
   * @param failures what went wrong, one entry per failed task
   * @param resources the traffic and aggregator resources of the round
   * @throws IllegalArgumentException if the round is below 1 or a count or the duration is
   *     negative
   * @throws NullPointerException if the duration, the failure list or the resources are null
   */
  public RoundSummary(int round, int fitSucceeded, int fitFailed, int evaluateSucceeded,
      int evaluateFailed, Evaluation evaluation, Duration duration, List<LearnerFailure> failures,
      RoundResources resources) {
    this(round, fitSucceeded, fitFailed, evaluateSucceeded, evaluateFailed, evaluation, duration,
        failures, resources, Duration.ZERO);
  }

  /**
   * Creates a summary whose resources were not measured ({@link RoundResources#UNKNOWN}).
   *
   * @param round the round number, from 1
   * @param fitSucceeded learners whose updates were accepted into the aggregate
   * @param fitFailed learners whose fit task failed, was rejected or timed out
   * @param evaluateSucceeded learners whose evaluation results were aggregated
   * @param evaluateFailed learners whose evaluate task failed or timed out
   * @param evaluation the federated evaluation, or null if no learner evaluated
   * @param duration wall time of the round's fit and evaluate phases
   * @param failures what went wrong, one entry per failed task
   * @throws IllegalArgumentException if the round is below 1 or a count or the duration is
   *     negative
   * @throws NullPointerException if the duration or the failure list is null
   */
  public RoundSummary(int round, int fitSucceeded, int fitFailed, int evaluateSucceeded,
      int evaluateFailed, Evaluation evaluation, Duration duration, List<LearnerFailure> failures) {
    this(round, fitSucceeded, fitFailed, evaluateSucceeded, evaluateFailed, evaluation, duration,
        failures, RoundResources.UNKNOWN);
  }

  /**
   * Returns the federated evaluation.
   *
   * @return the evaluation, or empty if no learner evaluated in this round
   */
  public Optional<Evaluation> federatedEvaluation() {
    return Optional.ofNullable(evaluation);
  }

  /**
   * Returns the federated loss.
   *
   * @return the example-weighted loss, or NaN if the round has no evaluation
   */
  public double loss() {
    return evaluation == null ? Double.NaN : evaluation.loss();
  }

  /**
   * Returns the federated accuracy.
   *
   * @return the example-weighted accuracy, or NaN if the round has none
   */
  public double accuracy() {
    return evaluation == null ? Double.NaN : evaluation.accuracy();
  }

  /**
   * Tells whether this round beats another for "best round" by the default ranking,
   * {@link RoundRanking#defaults()}: higher accuracy wins, a round with accuracy beats one
   * without, ties and rounds without accuracy go to the lower loss, and a round without an
   * evaluation never wins.
   *
   * @param other the best round so far, or null if there is none yet
   * @return true if this round should become the best round
   */
  public boolean isBetterThan(RoundSummary other) {
    return RoundRanking.defaults().isBetter(this, other);
  }
}
