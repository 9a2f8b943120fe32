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
 * <p>A round completes only when its fit phase accepted at least {@link #minFitResults()} updates
 * and its evaluate phase at least {@link #minEvaluateResults()} results; otherwise the aggregator
 * retries the phase or fails, as {@link #onInsufficientResults()} says.
 *
 * <p>A strategy that keeps state across rounds (a sampling generator, server momentum...) exposes
 * it through {@link #saveState()} and {@link #restoreState(Map)} so that an aggregator resumed from
 * a checkpoint continues exactly where the interrupted one stopped.
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

  /**
   * Returns the least number of accepted fit results (validated updates) for a round to complete.
   * A round whose fit instructions are empty (the strategy skipped fit) is not checked.
   *
   * @return at least 1; by default 1
   */
  default int minFitResults() {
    return 1;
  }

  /**
   * Returns the least number of evaluation results for a round to complete. A round whose evaluate
   * instructions are empty (the strategy skipped federated evaluation) is not checked.
   *
   * @return at least 0; by default 1
   */
  default int minEvaluateResults() {
    return 1;
  }

  /**
   * Returns what the aggregator does when a phase gathers fewer results than its minimum.
   *
   * @return the policy; by default {@link InsufficientResults#RETRY}
   */
  default InsufficientResults onInsufficientResults() {
    return InsufficientResults.RETRY;
  }

  /**
   * Returns how many attempts a phase of a round gets in all under
   * {@link InsufficientResults#RETRY}; ignored under {@link InsufficientResults#FAIL}.
   *
   * @return at least 1; by default 3
   */
  default int maxRoundAttempts() {
    return 3;
  }

  /**
   * Returns the state this strategy carries from round to round, for the checkpoint the aggregator
   * writes after every completed round. Called after {@link FitAggregation#finish} and
   * {@link #aggregateEvaluate} of that round.
   *
   * @return string entries that {@link #restoreState(Map)} understands; by default none
   */
  default Map<String, String> saveState() {
    return Map.of();
  }

  /**
   * Restores the state saved by {@link #saveState()}, when an aggregator resumes from a checkpoint,
   * before its first round.
   *
   * @param state the entries saved with the checkpoint
   * @throws IllegalArgumentException if the entries are not a state of this strategy; the message
   *     says which entry is wrong
   */
  default void restoreState(Map<String, String> state) {}
}
