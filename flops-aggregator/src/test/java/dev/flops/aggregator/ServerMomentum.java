package dev.flops.aggregator;

import dev.flops.api.Parameters;
import dev.flops.api.strategy.AggregationFunctions;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.MutableParameters;
import dev.flops.api.strategy.StrategyState;
import java.util.Map;

/**
 * FedAvgM (Hsu et al. 2019) written as a FedAvg variant in one file: one hook
 * ({@link #serverUpdate}) and the state it remembers, a momentum tensor per parameter, saved and
 * restored with the checkpoint. Sampling, configs and the weighted mean are FedAvg's.
 */
final class ServerMomentum extends FedAvg {
  private final double learningRate;
  private final double momentum;
  /** The velocity, as of the last completed round; null before the first. */
  private Parameters velocity;

  ServerMomentum(double learningRate, double momentum) {
    super(FedAvg.builder());
    this.learningRate = learningRate;
    this.momentum = momentum;
  }

  @Override
  protected Parameters serverUpdate(
      int round, Parameters global, Parameters average, AveragingKernel kernel) {
    try (MutableParameters x = kernel.ops().copyOf(global);
        MutableParameters v = velocity == null
            ? kernel.ops().zeros(global) : kernel.ops().copyOf(velocity);
        MutableParameters delta = AggregationFunctions.pseudoGradient(average, x)) {
      AggregationFunctions.momentumStep(x, v, delta, learningRate, momentum);
      velocity = v.snapshot();
      return x.snapshot();
    }
  }

  Parameters velocity() {
    return velocity;
  }

  @Override
  public StrategyState saveState() {
    StrategyState sampling = super.saveState();
    return velocity == null ? sampling : sampling.withTensors(velocity);
  }

  @Override
  public void restoreState(StrategyState state) {
    super.restoreState(state);
    velocity = state.tensors().size() == 0 ? null : state.tensors();
  }

  @Override
  public Map<String, Object> knobs() {
    Map<String, Object> knobs = new java.util.LinkedHashMap<>(super.knobs());
    knobs.put("server_learning_rate", learningRate);
    knobs.put("server_momentum", momentum);
    return knobs;
  }
}
