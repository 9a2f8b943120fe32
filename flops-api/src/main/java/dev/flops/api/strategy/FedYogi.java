package dev.flops.api.strategy;

/**
 * FedYogi (Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan, "Adaptive
 * Federated Optimization", ICLR 2021, Algorithm 2): the server applies the round's
 * example-weighted mean as a pseudo-gradient through Yogi (Zaheer, Reddi, Sachan, Kale and Kumar,
 * "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018). Its second moment moves by at
 * most {@code (1 − β2)·Δ²} a round: when the pseudo-gradients become small it decays more slowly
 * than Adam's, so the effective step size does not jump. With {@code Δ = mean − x},
 * element-wise:
 *
 * <pre>
 *   m ← β1·m + (1 − β1)·Δ              (m = 0 before the first round)
 *   v ← v − (1 − β2)·Δ²·sign(v − Δ²)   (v = τ² before the first round)
 *   x ← x + η·m / (√v + τ)
 * </pre>
 *
 * without bias correction, as in the paper and in Flower.
 * Sampling, configs, evaluation and the weighted mean are FedAvg's, set through {@code
 * base(FedAvg.Builder)}.
 *
 * <pre>{@code
 * FedYogi strategy = FedYogi.builder()
 *     .serverLearningRate(0.02)
 *     .beta1(0.9)
 *     .base(FedAvg.builder().fractionFit(0.5))
 *     .build();
 * }</pre>
 *
 * <p><b>Knobs</b> ({@link #knobs()}: FedAvg's plus {@code server_learning_rate}, {@code beta1},
 * {@code beta2}, {@code tau}) with Flower's defaults: {@code η = 0.01}, {@code β1 = 0.9},
 * {@code β2 = 0.99}, {@code τ = 1e-3}. Reddi et al. tune {@code η} and {@code τ} per task on
 * a logarithmic grid.
 *
 * <p><b>State and memory.</b> The moments {@code m} and {@code v}: two extra model-sized float32
 * buffers kept between rounds (off the Java heap with the native kernel) and checkpointed as
 * tensors {@code m/<tensor>}, {@code v/<tensor>} beside FedAvg's sampling state, so a resumed
 * federation continues bit for bit. The server update briefly holds nine more model-sized
 * buffers: the global model, the pseudo-gradient, the moments and two scratch buffers (Yogi's
 * sign) on the kernel, and snapshots of the new global model and moments.
 *
 * <p>Called by the aggregator from one thread at a time, like every strategy.
 */
public final class FedYogi extends ForwardingStrategy {

  private FedYogi(Builder builder) {
    super(new FedOpt(builder, AdaptiveOptimizer.Rule.YOGI, "FedYogi"));
  }

  /**
   * Returns a builder with Flower's defaults: {@code η = 0.01}, {@code β1 = 0.9}, {@code β2 =
   * 0.99}, {@code τ = 1e-3}, and FedAvg's defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builds a {@link FedYogi}: {@code serverLearningRate}, {@code beta1}, {@code beta2}, {@code
   * tau} and {@code base}; every setter checks its value at once.
   */
  public static final class Builder extends FedOpt.DecayingBuilder<Builder, FedYogi> {
    private Builder() {
      super(0.01, 1e-3);
    }

    @Override
    Builder self() {
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    @Override
    public FedYogi build() {
      return new FedYogi(this);
    }
  }
}
