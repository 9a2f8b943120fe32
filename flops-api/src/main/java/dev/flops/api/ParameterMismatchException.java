package dev.flops.api;

/**
 * Parameters given to {@link FederatedModel#setParameters} do not fit the model: a tensor is
 * missing, extra, or of another shape or dtype. Thrown by flops' own models (e.g. the DL4J
 * adapter); a model of the user's may throw it, or a plain {@link IllegalArgumentException}, which
 * a learner treats the same when it comes from {@code setParameters}.
 *
 * <p>On a learner this means its model does not have the aggregator's architecture. The learner
 * reports it as such, and the aggregator does not send the same learner the same parameters again
 * in the same round: only giving both sides the same model fixes it.
 */
public class ParameterMismatchException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message which tensor does not fit, and how
   */
  public ParameterMismatchException(String message) {
    super(message);
  }
}
