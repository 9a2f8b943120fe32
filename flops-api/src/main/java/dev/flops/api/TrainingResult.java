package dev.flops.api;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of a completed federated training.
 *
 * @param rounds the summary of every round, in order
 * @param bestRound the best round by the aggregator's {@link RoundRanking} (by default the highest
 *     federated accuracy, and the lowest loss where no accuracy is reported), or null if no round
 *     was evaluated
 * @param finalParameters the global parameters after the last round
 * @param duration the wall time of the whole training
 * @param tracking where the training was tracked, or null if tracking was off
 */
public record TrainingResult(
    List<RoundSummary> rounds,
    RoundSummary bestRound,
    Parameters finalParameters,
    Duration duration,
    TrackingInfo tracking) {

  /**
   * Validates the arguments.
   *
   * @throws NullPointerException if a required argument is null
   * @throws IllegalArgumentException if there are no rounds
   */
  public TrainingResult {
    rounds = List.copyOf(rounds);
    if (rounds.isEmpty()) {
      throw new IllegalArgumentException("a training result needs at least one round");
    }
    Objects.requireNonNull(finalParameters, "finalParameters");
    Objects.requireNonNull(duration, "duration");
  }

  /**
   * Creates the result of an untracked training.
   *
   * @param rounds the summary of every round, in order
   * @param bestRound the best round, or null if no round was evaluated
   * @param finalParameters the global parameters after the last round
   * @param duration the wall time of the whole training
   * @throws NullPointerException if a required argument is null
   * @throws IllegalArgumentException if there are no rounds
   */
  public TrainingResult(List<RoundSummary> rounds, RoundSummary bestRound,
      Parameters finalParameters, Duration duration) {
    this(rounds, bestRound, finalParameters, duration, null);
  }

  /**
   * Returns where the training was tracked.
   *
   * @return the experiment and run ids, or empty if tracking was off
   */
  public Optional<TrackingInfo> trackingInfo() {
    return Optional.ofNullable(tracking);
  }

  /**
   * Returns a copy with tracking information.
   *
   * @param info where the training was tracked
   * @return a new result, equal to this one but for its tracking information
   */
  public TrainingResult withTracking(TrackingInfo info) {
    return new TrainingResult(rounds, bestRound, finalParameters, duration, info);
  }

  /**
   * Returns the last round.
   *
   * @return the summary of the last round, whose metrics are the final metrics
   */
  public RoundSummary finalRound() {
    return rounds.get(rounds.size() - 1);
  }

  /**
   * Returns the best round.
   *
   * @return the best round, or empty if no round was evaluated
   */
  public Optional<RoundSummary> best() {
    return Optional.ofNullable(bestRound);
  }
}
