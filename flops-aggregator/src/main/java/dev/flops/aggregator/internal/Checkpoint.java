package dev.flops.aggregator.internal;

import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.strategy.StrategyState;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the aggregator saves after every completed round, and what a resumed aggregator continues
 * from. {@link CheckpointStore} documents the file format.
 *
 * @param round the last completed round, from 1
 * @param parameters the global parameters after that round
 * @param strategyState the strategy's saved state: string entries and named tensors
 * @param rounds the summaries of rounds 1 to {@code round}, in order
 * @param bestRound the best round so far, or 0 if no round was evaluated
 * @param extras opaque entries of the application (e.g. tracking ids), see {@code CheckpointExtras}
 * @param learners learner key to learner id, so that reconnecting learners keep their ids
 */
public record Checkpoint(
    int round,
    Parameters parameters,
    StrategyState strategyState,
    List<RoundSummary> rounds,
    int bestRound,
    Map<String, String> extras,
    Map<String, String> learners) {

  /**
   * Validates and copies.
   *
   * @throws IllegalArgumentException if the summaries are not rounds 1 to {@code round}, or the
   *     best round is not one of them
   */
  public Checkpoint {
    Objects.requireNonNull(parameters, "parameters");
    Objects.requireNonNull(strategyState, "strategyState (StrategyState.empty() for none)");
    rounds = List.copyOf(rounds);
    extras = Map.copyOf(extras);
    learners = Map.copyOf(learners);
    if (round < 1) {
      throw new IllegalArgumentException("a checkpoint is written after round 1 or later, not "
          + round);
    }
    if (rounds.size() != round) {
      throw new IllegalArgumentException(String.format(
          "a checkpoint of round %d needs the summaries of rounds 1 to %d but has %d",
          round, round, rounds.size()));
    }
    for (int i = 0; i < rounds.size(); i++) {
      if (rounds.get(i).round() != i + 1) {
        throw new IllegalArgumentException(String.format(
            "summary #%d is of round %d, expected round %d", i, rounds.get(i).round(), i + 1));
      }
    }
    if (bestRound < 0 || bestRound > round) {
      throw new IllegalArgumentException(
          "best round " + bestRound + " is not one of the rounds 1 to " + round);
    }
  }

  /**
   * Returns the best round so far.
   *
   * @return its summary, or empty if no round was evaluated
   */
  public Optional<RoundSummary> best() {
    return bestRound == 0 ? Optional.empty() : Optional.of(rounds.get(bestRound - 1));
  }
}
