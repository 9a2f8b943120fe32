package dev.flops.api.strategy;

import dev.flops.api.Evaluation;
import dev.flops.api.EvaluateResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decides how a federation trains; the aggregator runs the loop and calls it. The shape follows
 * Flower's strategies: initialize parameters, configure fit, aggregate fit (results and failures),
 * configure evaluate, aggregate evaluate, and an optional server-side evaluate.
 *
 * <p>Fit aggregation is incremental so that the aggregator never holds every update at once: it
 * {@linkplain #beginFitAggregation begins} an aggregation, hands it each validated update as soon
 * as it arrives, then {@linkplain FitAggregation#finish finishes} it with the failures.
 *
 * <p>The aggregator calls a strategy from one thread at a time.
 *
 * @see FedAvg
 */
public interface Strategy {

  /**
   * Returns the number of rounds to run.
   *
   * @return at least 1
   */
  int rounds();

  /**
   * Returns how long one task (fit or evaluate) of a round may take; a learner that has not
   * answered by then counts as failed for that round.
   *
   * @return a positive duration
   */
  Duration roundTimeout();

  /**
   * Describes the strategy's knobs, for logs and experiment tracking (MLflow params).
   *
   * @return knob names (snake_case) and values, in a stable order; empty by default
   */
  default Map<String, Object> knobs() {
    return Map.of();
  }

  /**
   * Returns how many learners must be connected before a round starts.
   *
   * @return at least 1
   */
  int minAvailableLearners();

  /**
   * Chooses the global parameters of round 1.
   *
   * @param modelParameters the parameters of the aggregator's own copy of the model
   * @return the initial global parameters; by default {@code modelParameters}
   */
  default Parameters initializeParameters(Parameters modelParameters) {
    return modelParameters;
  }

  /**
   * Chooses the learners that train in a round and the configuration each one receives.
   *
   * @param round the round, from 1
   * @param global the current global parameters
   * @param availableLearners ids of the connected learners, at least {@link #minAvailableLearners()}
   * @return one instruction per selected learner
   */
  List<Instruction> configureFit(int round, Parameters global, List<String> availableLearners);

  /**
   * Begins aggregating the updates of a round.
   *
   * @param round the round, from 1
   * @param global the global parameters the learners started from
   * @param kernel the aggregator's averaging kernel
   * @return an aggregation that receives each validated update
   */
  FitAggregation beginFitAggregation(int round, Parameters global, AveragingKernel kernel);

  /**
   * Chooses the learners that evaluate the new global parameters of a round.
   *
   * @param round the round, from 1
   * @param global the new global parameters
   * @param availableLearners ids of the connected learners
   * @return one instruction per selected learner; empty to skip federated evaluation
   */
  List<Instruction> configureEvaluate(int round, Parameters global, List<String> availableLearners);

  /**
   * Combines the learners' evaluation results of a round.
   *
   * @param round the round, from 1
   * @param results the results that arrived
   * @param failures the evaluate tasks that failed
   * @return the federated evaluation, or empty if there is none for this round
   */
  Optional<Evaluation> aggregateEvaluate(
      int round, List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures);

  /**
   * Evaluates the global parameters on the aggregator itself, e.g. on a central test set.
   *
   * @param round the round, from 1
   * @param global the new global parameters
   * @return the result, or empty (the default) if the strategy does not evaluate centrally
   */
  default Optional<EvaluateResult> evaluate(int round, Parameters global) {
    return Optional.empty();
  }
}
