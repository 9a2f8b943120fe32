package dev.flops.aggregator;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import dev.flops.api.strategy.AggregationResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FitAggregation;
import dev.flops.api.strategy.Instruction;
import dev.flops.api.strategy.Strategy;
import dev.flops.api.strategy.StrategyState;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A cluster's strategy as a {@link ClusterTrainer} runs it: the application's strategy, except
 * that every training starts from the cluster's model copy (which holds the root's global
 * parameters, whatever initial parameters the strategy was built with), and, for an
 * evaluate-only round, that no learner is asked to fit (the loop then keeps the parameters).
 */
final class ClusterStrategy implements Strategy {
  private final Strategy delegate;
  private final boolean fit;

  private ClusterStrategy(Strategy delegate, boolean fit) {
    this.delegate = delegate;
    this.fit = fit;
  }

  /** The strategy for a fit: training cycles from the root's global parameters. */
  static Strategy fit(Strategy delegate) {
    return new ClusterStrategy(delegate, true);
  }

  /** The strategy for an evaluate-only round of the root's global parameters. */
  static Strategy evaluateOnly(Strategy delegate) {
    return new ClusterStrategy(delegate, false);
  }

  @Override
  public Map<String, Object> knobs() {
    Map<String, Object> knobs = new LinkedHashMap<>(delegate.knobs());
    knobs.put("cluster_strategy", delegate.getClass().getSimpleName());
    return knobs;
  }

  @Override
  public Parameters initializeParameters(Parameters modelParameters) {
    return modelParameters;
  }

  @Override
  public List<Instruction> configureFit(int round, Parameters global, List<String> available) {
    return fit ? delegate.configureFit(round, global, available) : List.of();
  }

  @Override
  public FitAggregation beginFitAggregation(int round, Parameters global, AveragingKernel kernel) {
    return fit ? delegate.beginFitAggregation(round, global, kernel) : NO_FIT;
  }

  @Override
  public List<Instruction> configureEvaluate(int round, Parameters global,
      List<String> available) {
    return delegate.configureEvaluate(round, global, available);
  }

  @Override
  public Optional<Evaluation> aggregateEvaluate(int round,
      List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures) {
    return delegate.aggregateEvaluate(round, results, failures);
  }

  @Override
  public Optional<EvaluateResult> evaluate(int round, Parameters global) {
    return delegate.evaluate(round, global);
  }

  @Override
  public boolean keepsGlobalParameters() {
    return delegate.keepsGlobalParameters();
  }

  @Override
  public StrategyState saveState() {
    return fit ? delegate.saveState() : StrategyState.empty();
  }

  @Override
  public void restoreState(StrategyState state) {
    if (fit) {
      delegate.restoreState(state);
    }
  }

  @Override
  public String toString() {
    return fit ? delegate.toString() : "evaluate-only " + delegate;
  }

  /** The aggregation of a round that asked no learner to fit: it keeps the parameters. */
  private static final FitAggregation NO_FIT = new FitAggregation() {
    @Override
    public void accept(BorrowedUpdate update) {
      throw new IllegalStateException("an evaluate-only round received an update from learner "
          + update.learnerId() + " although it sent no fit task");
    }

    @Override
    public AggregationResult finish(List<LearnerFailure> failures) {
      return AggregationResult.keep(0, 0);
    }
  };
}
