package dev.flops.aggregator;

/** Federated training stopped before its last round. The cause says why. */
public final class TrainingException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what stopped the training
   * @param cause the underlying failure
   */
  public TrainingException(String message, Throwable cause) {
    super(message, cause);
  }
}
