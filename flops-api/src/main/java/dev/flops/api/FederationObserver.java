package dev.flops.api;

/**
 * Receives the lifecycle events of a federated training on the aggregator.
 *
 * <p>Methods are called from the aggregator's round thread, one at a time, in the order started,
 * round finished (once per round), then succeeded or failed. An exception thrown by an observer is
 * logged and contained: training goes on. All methods do nothing by default.
 */
public interface FederationObserver {

  /**
   * Called once when training starts, before the first round.
   *
   * @param event what is about to run
   */
  default void onTrainingStarted(TrainingStarted event) {}

  /**
   * Called after every round.
   *
   * @param summary what happened in the round
   */
  default void onRoundFinished(RoundSummary summary) {}

  /**
   * Called once when every round has run.
   *
   * @param result the final and best metrics and the final parameters
   */
  default void onTrainingSucceeded(TrainingResult result) {}

  /**
   * Called once when training stops before its last round.
   *
   * @param cause why it stopped
   */
  default void onTrainingFailed(Throwable cause) {}
}
