package dev.flops.api.app;

/**
 * A {@link FederatedApp}'s own code threw: its constructor, or one of its methods called through
 * {@link LoadedApp}. The message names the app's class, the method and the cause, which is
 * chained.
 */
public final class FederatedAppException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what threw, and the cause in words
   * @param cause what the app threw
   */
  public FederatedAppException(String message, Throwable cause) {
    super(message, cause);
  }
}
