package dev.flops.api;

/**
 * The user's model as flops sees it: its parameters can be read and replaced.
 *
 * <p>Both sides call it. A learner's runtime sets the global parameters before every fit and
 * evaluate task. The aggregator keeps its own copy of the model (built without data), reads its
 * initial parameters from it and sets the new global parameters into it after every round, so that
 * the application holds the federated model at the end.
 *
 * <p>Implementations must copy: the parameters returned must not change when the model trains
 * later, and the model must not keep a reference into parameters it was given. One that does
 * anyway (a model that is nothing but its parameters, say) must leave {@link #keepsParameters()}
 * at its default, {@code true}: the aggregator then never frees parameters it gave the model
 * early.
 *
 * @see dev.flops.dl4j.Dl4jModel for DL4J networks
 */
public interface FederatedModel {

  /**
   * Returns a snapshot of the model's current parameters.
   *
   * @return the parameters, with stable names and shapes from call to call
   */
  Parameters getParameters();

  /**
   * Replaces the model's parameters.
   *
   * @param parameters the new values; same names, dtypes and shapes as {@link #getParameters()}
   * @throws IllegalArgumentException if the structure does not match the model (preferably a
   *     {@link ParameterMismatchException}); a learner reports it as a model unlike the
   *     aggregator's, which is not retried within the round
   */
  void setParameters(Parameters parameters);

  /**
   * Whether parameters given to {@link #setParameters} may still be read after a later call
   * replaced them: by the model, or by code that got them from {@link #getParameters()} (a model
   * that keeps a reference and returns it).
   *
   * <p>The aggregator frees a round's global parameters (off-heap memory) as soon as a later
   * round has replaced them if this returns {@code false} and the strategy keeps none either
   * ({@link dev.flops.api.strategy.Strategy#keepsGlobalParameters()}); otherwise the garbage
   * collector frees them, which for off-heap memory waits for an old-generation collection.
   * Return {@code false} only if that is safe: reading freed parameters reads garbage or crashes
   * the JVM. A model that copies in both directions, as the contract above asks, is safe.
   *
   * @return {@code true} (the default) if replaced parameters may still be read;
   *     {@link dev.flops.dl4j.Dl4jModel} returns {@code false}
   */
  default boolean keepsParameters() {
    return true;
  }
}
