package dev.flops.api.strategy;

import dev.flops.api.LearnerFailure;
import java.util.List;

/**
 * The aggregation of one round's fit results, fed one validated update at a time.
 *
 * <p>The aggregator calls {@link #accept} once per accepted update, from one thread at a time and
 * in arrival order, and then either {@link #finish} once or, when the round's attempt gathered too
 * few results to count, {@link #discard} once. The update is lent for the length of
 * {@code accept} only (see {@link BorrowedUpdate}): that is what keeps aggregator memory
 * proportional to the model and not to the number of learners.
 */
public interface FitAggregation {

  /**
   * Folds one validated update into the aggregate.
   *
   * @param update the update, lent for this call; its structure already matches the global
   *     parameters and its values are finite
   * @throws RuntimeException if the strategy cannot fold it: the aggregator refuses that update
   *     (the learner's task fails) and the aggregate must be as if it had never been offered;
   *     an {@link dev.flops.api.InvalidResultException} says that the update's values are at
   *     fault (the learner is told so), any other exception that the aggregator is
   */
  void accept(BorrowedUpdate update);

  /**
   * Completes the aggregation.
   *
   * @param failures the fit tasks of the round that failed, were rejected or timed out
   * @return the new global parameters (or none, to keep the current ones), the number of updates
   *     and examples aggregated, and the aggregated fit metrics
   * @throws RuntimeException if the updates cannot be combined: the aggregator logs the message at
   *     ERROR and keeps the global parameters for that round
   */
  AggregationResult finish(List<LearnerFailure> failures);

  /**
   * Drops everything accepted so far and frees it: the attempt that fed this aggregation gathered
   * fewer results than the training plan's minimum, so none of them may reach the global model.
   */
  default void discard() {}
}
