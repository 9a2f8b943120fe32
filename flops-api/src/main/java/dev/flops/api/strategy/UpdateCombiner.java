package dev.flops.api.strategy;

import dev.flops.api.Parameters;

/**
 * Combines one round's accepted updates into one set of parameters: FedAvg's example-weighted
 * mean by default, a coordinate-wise median or Krum's choice in the robust strategies. A
 * {@link FedAvg} variant supplies its own through {@link FedAvg#combiner}; FedAvg keeps the rest of
 * the round (example counts, fit metrics, failures, the server update).
 *
 * <p>Lifetime: made for one round's attempt, then {@link #add} once per accepted update (from one
 * thread at a time, in arrival order), {@link #combine()} at most once, and {@link #close()} once
 * in every case, also when the attempt is discarded: that is where staged files are deleted.
 */
public interface UpdateCombiner extends AutoCloseable {

  /**
   * Takes one validated update into the combination.
   *
   * @param update the update, lent for this call only (see {@link BorrowedUpdate})
   * @throws RuntimeException if the combiner cannot take it: the aggregator refuses that update
   *     and the combination must be as if it had never been offered
   */
  void add(BorrowedUpdate update);

  /**
   * Returns the number of updates added so far.
   *
   * @return the count, at least 0
   */
  int count();

  /**
   * Combines the updates added.
   *
   * @return float32 parameters with the global structure; they stay valid after {@link #close()}
   * @throws IllegalStateException if the updates cannot be combined (none were added, or fewer than
   *     the algorithm needs, e.g. Krum with {@code n <= 2f + 2}); the message says why and what to
   *     change, and the aggregator keeps the previous global parameters for that round
   */
  Parameters combine();

  /** Frees what the combiner holds (kernel buffers, staged files); calling it again does nothing. */
  @Override
  void close();
}
