package dev.flops.api.strategy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What FedAdagrad, FedAdam and FedYogi share (Reddi et al., "Adaptive Federated Optimization",
 * ICLR 2021, Algorithm 2; Flower's {@code FedOpt}): the server update through {@link
 * AggregationFunctions#adaptiveStep}, the moments {@code m} (zeros) and {@code v} (τ², as in the
 * paper) kept and checkpointed as tensors {@code m/<tensor>} and {@code v/<tensor>}, the knobs
 * and the builders. Each public strategy only names its rule and its defaults and forwards to a
 * {@code FedOpt} (see {@link ForwardingStrategy} for why it does not extend it).
 */
final class FedOpt extends ServerOptimizer {

  private final AdaptiveOptimizer optimizer;

  FedOpt(Builder<?, ?> builder, AdaptiveOptimizer.Rule rule, String name) {
    // v starts at tau^2 as in Reddi et al. (Algorithm 2: v_{-1} >= tau^2); Flower starts at 0
    super(builder.base(), name, List.of("m", "v"), 0f, (float) (builder.tau * builder.tau));
    this.optimizer = new AdaptiveOptimizer(rule, builder.serverLearningRate, builder.beta1,
        builder.beta2, builder.tau);
  }

  @Override
  void step(MutableParameters x, MutableParameters delta, List<MutableParameters> slots) {
    AggregationFunctions.adaptiveStep(optimizer, x, slots.get(0), slots.get(1), delta);
  }

  /**
   * Returns FedAvg's knobs plus {@code server_learning_rate}, {@code beta1}, {@code beta2} (not
   * for FedAdagrad, which has no decay of {@code v}) and {@code tau}.
   */
  @Override
  public Map<String, Object> knobs() {
    Map<String, Object> knobs = new LinkedHashMap<>(super.knobs());
    knobs.put("server_learning_rate", optimizer.learningRate());
    knobs.put("beta1", optimizer.beta1());
    if (optimizer.rule() != AdaptiveOptimizer.Rule.ADAGRAD) {
      knobs.put("beta2", optimizer.beta2());
    }
    knobs.put("tau", optimizer.tau());
    return knobs;
  }

  /**
   * The knobs of an adaptive server optimizer; every setter checks its value at once.
   *
   * @param <B> the public builder
   * @param <S> the strategy it builds
   */
  abstract static class Builder<B extends Builder<B, S>, S extends Strategy>
      extends ForwardingStrategy.Builder<B> {
    private double serverLearningRate;
    private double beta1 = 0.9;
    private double beta2 = 0.99;
    private double tau;

    Builder(double serverLearningRate, double tau) {
      this.serverLearningRate = serverLearningRate;
      this.tau = tau;
    }

    /**
     * Sets the server learning rate {@code η} (the default is the strategy's: Flower's).
     *
     * @param eta positive and finite
     * @return this builder
     * @throws IllegalArgumentException if {@code eta} is not in (0, inf)
     */
    public B serverLearningRate(double eta) {
      this.serverLearningRate = positiveFinite("serverLearningRate", eta);
      return self();
    }

    /**
     * Sets the decay {@code β1} of the first moment {@code m} (default 0.9).
     *
     * @param beta1 in [0, 1); 0 applies each round's pseudo-gradient without momentum
     * @return this builder
     * @throws IllegalArgumentException if {@code beta1} is outside [0, 1)
     */
    public B beta1(double beta1) {
      this.beta1 = decay("beta1", beta1);
      return self();
    }

    /**
     * Sets the degree of adaptivity {@code τ} added to {@code sqrt(v)}; smaller is more adaptive
     * (the default is the strategy's: Flower's).
     *
     * @param tau positive and finite
     * @return this builder
     * @throws IllegalArgumentException if {@code tau} is not in (0, inf)
     */
    public B tau(double tau) {
      this.tau = positiveFinite("tau", tau);
      return self();
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public abstract S build();
  }

  /**
   * The builder of the strategies whose second moment decays with {@code β2} (FedAdam, FedYogi).
   *
   * @param <B> the public builder
   * @param <S> the strategy it builds
   */
  abstract static class DecayingBuilder<B extends DecayingBuilder<B, S>, S extends Strategy>
      extends Builder<B, S> {

    DecayingBuilder(double serverLearningRate, double tau) {
      super(serverLearningRate, tau);
    }

    /**
     * Sets the decay {@code β2} of the second moment {@code v} (default 0.99).
     *
     * @param beta2 in [0, 1)
     * @return this builder
     * @throws IllegalArgumentException if {@code beta2} is outside [0, 1)
     */
    public B beta2(double beta2) {
      ((Builder<B, S>) this).beta2 = decay("beta2", beta2);
      return self();
    }
  }
}
