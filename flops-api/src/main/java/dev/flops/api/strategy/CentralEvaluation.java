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
   * @param global the new global parameters; read them, do not keep them past the call
   * @return the result (loss, examples and metrics such as {@code accuracy}); never null
   */
  EvaluateResult evaluate(int round, Parameters global);
}
