package dev.flops.api.strategy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * FedAvg with server momentum, FedAvgM (Hsu, Qi and Brown, "Measuring the Effects of Non-Identical
 * Data Distribution for Federated Visual Classification", 2019): the round's example-weighted mean
 * is applied as a pseudo-gradient with momentum, which damps the round-to-round swings of non-IID
 * federations. With {@code Δ = mean − x}:
 *
 * <pre>
 *   v ← β·v + Δ          (v = 0 before the first round)
 *   x ← x + η·v
 * </pre>
 *
 * With {@code β = 0} and {@code η = 1} this is FedAvg. Sampling, configs, evaluation and the
 * weighted mean are FedAvg's, set through {@link Builder#base(FedAvg.Builder)}.
 *
 * <pre>{@code
 * FedAvgM strategy = FedAvgM.builder()
 *     .serverLearningRate(1.0)
 *     .momentum(0.9)
 *     .base(FedAvg.builder().fractionFit(0.5))
 *     .build();
 * }</pre>
 *
 * <p><b>Knobs</b> ({@link #knobs()}: FedAvg's plus {@code server_learning_rate}, {@code
 * momentum}): the server learning rate {@code η} (default 1.0, as in Hsu et al.) and the momentum
 * {@code β} (default 0.9).
 *
 * <p><b>State and memory.</b> The velocity {@code v} is one extra model-sized float32 buffer,
 * kept between rounds (off the Java heap with the native kernel) and checkpointed as tensors
 * named {@code velocity/<tensor>} beside FedAvg's sampling state, so a resumed federation
 * continues bit for bit. The server update briefly holds five more model-sized buffers: the
 * global model, the pseudo-gradient and the velocity on the kernel, and snapshots of the new
 * global model and velocity.
 *
 * <p>Called by the aggregator from one thread at a time, like every strategy.
 */
public final class FedAvgM extends ForwardingStrategy {

  private FedAvgM(Builder builder) {
    super(new Momentum(builder));
  }

  /**
   * Returns a builder with the defaults: server learning rate 1.0, momentum 0.9, FedAvg's
   * defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The FedAvg variant inside: a server update with momentum, and the velocity it keeps. */
  private static final class Momentum extends ServerOptimizer {
    private final double serverLearningRate;
    private final double momentum;

    Momentum(FedAvgM.Builder builder) {
      super(builder.base(), "FedAvgM", List.of("velocity"), 0f);
      this.serverLearningRate = builder.serverLearningRate;
      this.momentum = builder.momentum;
    }

    @Override
    void step(MutableParameters x, MutableParameters delta, List<MutableParameters> slots) {
      AggregationFunctions.momentumStep(x, slots.get(0), delta, serverLearningRate, momentum);
    }

    @Override
    public Map<String, Object> knobs() {
      Map<String, Object> knobs = new LinkedHashMap<>(super.knobs());
      knobs.put("server_learning_rate", serverLearningRate);
      knobs.put("momentum", momentum);
      return knobs;
    }
  }

  /**
   * Builds a {@link FedAvgM}: {@code serverLearningRate}, {@code momentum} and {@code base}
   * (FedAvg's settings); every setter checks its value at once.
   */
  public static final class Builder extends ForwardingStrategy.Builder<Builder> {
    private double serverLearningRate = 1.0;
    private double momentum = 0.9;

    private Builder() {}

    @Override
    Builder self() {
      return this;
    }

    /**
     * Sets the server learning rate {@code η} (default 1.0).
     *
     * @param eta positive and finite
     * @return this builder
     * @throws IllegalArgumentException if {@code eta} is not in (0, inf)
     */
    public Builder serverLearningRate(double eta) {
      this.serverLearningRate = ServerOptimizer.positiveFinite("serverLearningRate", eta);
      return this;
    }

    /**
     * Sets the server momentum {@code β} (default 0.9; 0 turns momentum off).
     *
     * @param beta in [0, 1)
     * @return this builder
     * @throws IllegalArgumentException if {@code beta} is outside [0, 1)
     */
    public Builder momentum(double beta) {
      this.momentum = ServerOptimizer.decay("momentum", beta);
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     */
    public FedAvgM build() {
      return new FedAvgM(this);
    }
  }
}
