package dev.flops.api.strategy;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decides how a federation learns; the aggregator runs the loop (rounds, timeouts, minimums,
 * retries: its training plan) and asks the strategy at each decision. The shape follows Flower's
 * strategies: initialize parameters, configure fit, aggregate fit (results and failures), configure
 * evaluate, aggregate evaluate, and an optional central (server-side) evaluation.
 *
 * <p>Fit aggregation is incremental so that the aggregator never holds every update at once: it
 * {@linkplain #beginFitAggregation begins} an aggregation, hands it each validated update as soon
 * as it arrives, then {@linkplain FitAggregation#finish finishes} it with the failures.
 *
 * <p>A strategy that keeps state across rounds (a sampling generator, server momentum...) exposes
 * it through {@link #saveState()} and {@link #restoreState(StrategyState)} so that an aggregator
 * resumed from a checkpoint continues exactly where the interrupted one stopped; the state holds
 * named strings and named tensors (a momentum, Adam's moments), checkpointed bit-exactly.
 *
 * <p>The aggregator calls a strategy from one thread at a time. A strategy instance may serve
 * several trainings one after the other (the same aggregator's {@code train} called again); it
 * then carries its state from one to the next.
 *
 * @see FedAvg
 */
public interface Strategy {

  /**
   * Describes the strategy's knobs, for logs and experiment tracking (MLflow params).
   *
   * @return knob names (snake_case) and values, in a stable order; empty by default
   */
  default Map<String, Object> knobs() {
    return Map.of();
  }

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
   * @param availableLearners ids of the connected learners, at least the plan's minimum
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
   * Evaluates the global parameters on the aggregator itself, e.g. on a central test set. The
   * result is the round's central evaluation: logged, in the round summary, and tracked.
   *
   * @param round the round, from 1
   * @param global the new global parameters
   * @return the result, or empty (the default) if the strategy does not evaluate centrally
   */
  default Optional<EvaluateResult> evaluate(int round, Parameters global) {
    return Optional.empty();
  }

  /**
   * Whether this strategy may keep global parameters it was given or returned (a reference to the
   * {@link Parameters} or to their tensors' data) past the round that replaced them.
   *
   * <p>The aggregator allocates each round's new global parameters off the Java heap. When a
   * later round replaces them and nothing else needs them (they are neither the current nor the
   * best round's parameters, and no download still reads them), it frees that memory at once if
   * this returns {@code false} and the aggregator's model keeps none either
   * ({@link dev.flops.api.FederatedModel#keepsParameters()}); otherwise the garbage collector
   * frees it, which for memory off the
   * heap happens only at an old-generation collection, so superseded models pile up to the JVM's
   * direct-memory limit ({@code -XX:MaxDirectMemorySize}) first. A strategy that returns
   * {@code false} must copy what it wants to keep (as {@code FedAvgM} keeps its momentum in
   * buffers of its own); reading freed parameters would read garbage or crash the JVM.
   *
   * <p>flops' own strategies return {@code false} unless their {@link CentralEvaluation} may
   * keep the parameters ({@link CentralEvaluation#keepsParameters()}, true for a lambda); a
   * subclass of {@link FedAvg} outside flops returns {@code true} unless it overrides this.
   *
   * @return {@code true} (the default) if the strategy may keep global parameters past their round
   */
  default boolean keepsGlobalParameters() {
    return true;
  }

  /**
   * Returns the state this strategy carries from round to round, for the checkpoint the aggregator
   * writes after every completed round. Called after {@link FitAggregation#finish} and
   * {@link #aggregateEvaluate} of that round.
   *
   * @return string entries and tensors that {@link #restoreState(StrategyState)} understands; the
   *     tensors must not change afterwards (hand over a snapshot of a buffer you keep updating);
   *     by default {@link StrategyState#empty()}
   */
  default StrategyState saveState() {
    return StrategyState.empty();
  }

  /**
   * Restores the state saved by {@link #saveState()}, when an aggregator resumes from a checkpoint,
   * before its first round.
   *
   * @param state the entries and tensors saved with the checkpoint, bit for bit
   * @throws IllegalArgumentException if the state is not one of this strategy; the message says
   *     which entry or tensor is wrong
   */
  default void restoreState(StrategyState state) {}
}
