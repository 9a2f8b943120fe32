package dev.flops.learner;

/** A learner stopped without finishing its federation; the message says why and what to do. */
public class LearnerException extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what went wrong
   * @param cause the underlying failure, or null
   */
  public LearnerException(String message, Throwable cause) {
    super(message, cause);
  }
}
