package dev.flops.api.strategy;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Parameters;

/**
 * Evaluates the global parameters on the aggregator itself, on data it holds (e.g. a central test
 * set), after every round: the {@code evaluate_fn} of Flower's FedAvg. Federated evaluation says
 * how the model does on the learners' own data; this says how it does on one fixed set, the same
 * every round, whatever the learners hold.
 */
@FunctionalInterface
public interface CentralEvaluation {

  /**
   * Evaluates the global parameters. Runs on the aggregator's training thread, after the round's
   * federated evaluation; a training waits for it.
   *
   * @param round the round, from 1
   * @param global the new global parameters; read them within the call (copy what you keep)
   * @return the result (loss, examples and metrics such as {@code accuracy}); never null
   */
  EvaluateResult evaluate(int round, Parameters global);

  /**
   * Whether this function may keep the parameters it was given (or a view of their data) past
   * its call, e.g. to remember the best round's model.
   *
   * <p>A strategy with a central evaluation that may keep them says so in
   * {@link Strategy#keepsGlobalParameters()}, and the aggregator then leaves superseded global
   * models to the garbage collector. Return {@code false} only if the function copies what it
   * keeps (setting them into a {@code Dl4jModel} copies): the aggregator then frees each round's
   * model once a later round has replaced it, and reading it afterwards reads garbage or crashes
   * the JVM. A lambda cannot override this, so it counts as keeping them.
   *
   * @return {@code true} (the default) if the parameters may be read after the call
   */
  default boolean keepsParameters() {
    return true;
  }
}
