package dev.flops.api.strategy;

import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import java.util.List;
import java.util.Optional;

/**
 * The aggregation of one round's fit results, fed one validated update at a time.
 *
 * <p>The aggregator calls {@link #accept} once per accepted update, from one thread at a time and
 * in arrival order, and then either {@link #finish} once or, when the round's attempt gathered too few
 * results to count, {@link #discard} once. An implementation must not keep a reference to
 * an update's parameters after {@code accept} returns: that is what keeps aggregator memory
 * proportional to the model and not to the number of learners.
 */
public interface FitAggregation {

  /**
   * Folds one validated update into the aggregate.
   *
   * <p>The update's data is only valid during this call: the aggregator reuses its buffers for the
   * next upload as soon as this returns (that is what bounds its memory). A strategy that must keep
   * updates, such as a median, copies them, for instance to disk.
   *
   * @param result the update; its structure already matches the global parameters and its values
   *     are finite
   */
  void accept(LearnerResult<FitResult> result);

  /**
   * Completes the aggregation.
   *
   * @param failures the fit tasks of the round that failed, were rejected or timed out
   * @return the new global parameters, or empty to keep the current ones
   */
  Optional<Parameters> finish(List<LearnerFailure> failures);

  /**
   * Drops everything accepted so far and frees it: the attempt that fed this aggregation gathered
   * fewer results than the strategy's minimum, so none of them may reach the global model.
   */
  default void discard() {}
}
