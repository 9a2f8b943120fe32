package dev.flops.aggregator;

/**
 * What the aggregator does when a phase of a round (fit or evaluate) ends with fewer accepted
 * results than the training plan's minimum ({@link TrainingPlan#minFitResults()},
 * {@link TrainingPlan#minEvaluateResults()}): learners dropped out, failed, sent updates that were
 * rejected, or ran past the round timeout.
 *
 * <p>Results of a phase that fell short never reach the global model: the fit aggregation of that
 * attempt is {@linkplain dev.flops.api.strategy.FitAggregation#discard() discarded}.
 */
public enum InsufficientResults {

  /**
   * Runs the phase again, with a fresh sample of the learners connected by then, up to
   * {@link TrainingPlan#maxRoundAttempts()} attempts in all; if the last attempt also falls short,
   * training fails. A retried evaluate phase evaluates the same new global model again; its fit
   * phase is not repeated.
   */
  RETRY,

  /** Fails the training at once. The last completed round is the one a resume starts after. */
  FAIL
}
