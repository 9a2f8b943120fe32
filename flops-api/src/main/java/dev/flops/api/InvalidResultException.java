package dev.flops.api;

/**
 * A number a learner's result would report breaks a rule of {@link ReportedNumbers} (a NaN or
 * infinite loss or metric, an example count of 0, a metric name MLflow refuses, ...). Thrown by
 * {@link ReportedNumbers}, and so by the constructors of {@link FitResult} and
 * {@link EvaluateResult}. An averaging kernel throws it too when it cannot sum a value an update
 * carries (the exact kernel's range, for instance): the aggregator then refuses that learner's
 * update as invalid, not as a fault of its own.
 *
 * <p>It is an {@link IllegalArgumentException}, so code that catches that still works. A learner
 * whose fit or evaluate throws it reports the task as refused by validation rather than as an
 * error of its code: the same data gives the same numbers, so the aggregator does not ask the
 * same learner again in the same round.
 */
public class InvalidResultException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message names the field, the value and what a learner must report instead
   */
  public InvalidResultException(String message) {
    super(message);
  }
}
