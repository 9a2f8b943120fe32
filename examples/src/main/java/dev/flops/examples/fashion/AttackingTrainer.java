package dev.flops.examples.fashion;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.SplittableRandom;

/**
 * A learner that trains honestly and then sends an {@link Attack}'s edit of its update, with its
 * honest example count and metrics; it evaluates honestly. Demo and test tool only.
 */
final class AttackingTrainer implements LocalTrainer {
  private final LocalTrainer honest;
  private final Attack attack;
  private final SplittableRandom random;

  AttackingTrainer(LocalTrainer honest, Attack attack, long seed) {
    this.honest = honest;
    this.attack = attack;
    this.random = new SplittableRandom(seed);
  }

  @Override
  public FederatedModel model() {
    return honest.model();
  }

  @Override
  public void prepare() throws Exception {
    honest.prepare();
  }

  @Override
  public FitResult fit(Config config) throws Exception {
    // The learner has set the global parameters on the model before fit: keep them to attack from.
    Parameters global = copy(honest.model().getParameters());
    FitResult result = honest.fit(config);
    return new FitResult(attack.apply(global, result.parameters(), random), result.numExamples(),
        result.metrics());
  }

  @Override
  public EvaluateResult evaluate(Config config) throws Exception {
    return honest.evaluate(config);
  }

  private static Parameters copy(Parameters parameters) {
    return new Parameters(parameters.tensors().stream()
        .map(t -> Tensor.ofFloats(t.name(), t.shape(), t.toFloatArray()))
        .toList());
  }
}
