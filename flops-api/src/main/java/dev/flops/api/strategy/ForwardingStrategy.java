package dev.flops.api.strategy;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A public strategy that is a {@link FedAvg} variant inside: FedAvgM, FedAdagrad, FedAdam,
 * FedYogi and FedProx each build a FedAvg subclass that overrides one hook and forward every
 * decision to it.
 *
 * <p>Why not subclass FedAvg directly: each of them has its own {@code builder()}, and a static
 * {@code FedAdam.builder()} returning {@code FedAdam.Builder} cannot hide {@code FedAvg.builder()}
 * (JLS 8.4.8.3: the return types are not substitutable, and {@code FedAvg.Builder} is final).
 */
abstract class ForwardingStrategy implements Strategy {

  private final FedAvg variant;

  ForwardingStrategy(FedAvg variant) {
    this.variant = variant;
  }

  @Override
  public Map<String, Object> knobs() {
    return variant.knobs();
  }

  @Override
  public Parameters initializeParameters(Parameters modelParameters) {
    return variant.initializeParameters(modelParameters);
  }

  @Override
  public List<Instruction> configureFit(int round, Parameters global, List<String> available) {
    return variant.configureFit(round, global, available);
  }

  @Override
  public FitAggregation beginFitAggregation(int round, Parameters global, AveragingKernel kernel) {
    return variant.beginFitAggregation(round, global, kernel);
  }

  @Override
  public List<Instruction> configureEvaluate(int round, Parameters global, List<String> available) {
    return variant.configureEvaluate(round, global, available);
  }

  @Override
  public Optional<Evaluation> aggregateEvaluate(
      int round, List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures) {
    return variant.aggregateEvaluate(round, results, failures);
  }

  @Override
  public Optional<EvaluateResult> evaluate(int round, Parameters global) {
    return variant.evaluate(round, global);
  }

  @Override
  public boolean keepsGlobalParameters() {
    return variant.keepsGlobalParameters();
  }

  @Override
  public StrategyState saveState() {
    return variant.saveState();
  }

  @Override
  public void restoreState(StrategyState state) {
    variant.restoreState(state);
  }

  /** Names the strategy and its knobs, as FedAvg does. */
  @Override
  public String toString() {
    return getClass().getSimpleName() + knobs();
  }

  /**
   * What the builders of these strategies share: the FedAvg settings inside.
   *
   * @param <B> the public builder, returned by every setter
   */
  abstract static class Builder<B extends Builder<B>> {
    private FedAvg.Builder base = FedAvg.builder();

    abstract B self();

    /**
     * Sets FedAvg's settings: sampling, configs, central evaluation, metrics aggregation (default
     * {@code FedAvg.builder()}). Read when the strategy is built.
     *
     * @param base FedAvg's builder
     * @return this builder
     * @throws NullPointerException if {@code base} is null
     */
    public B base(FedAvg.Builder base) {
      this.base = Objects.requireNonNull(base, "base (FedAvg.builder()...)");
      return self();
    }

    FedAvg.Builder base() {
      return base;
    }
  }
}
