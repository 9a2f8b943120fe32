package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.Config;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A FedAvg variant overrides one hook and inherits everything else. */
class FedAvgVariantTest {

  /** FedProx's change to FedAvg (Li et al. 2020): one setting more in every fit config. */
  static final class WithProximalTerm extends FedAvg {
    WithProximalTerm() {
      super(FedAvg.builder().fitConfig(round -> Config.of("local_epochs", 2)));
    }

    @Override
    protected Config fitConfig(int round) {
      return super.fitConfig(round).with("proximal_mu", 0.1);
    }
  }

  /** A server learning rate: global + eta * (mean - global), one hook. */
  static final class ServerLearningRate extends FedAvg {
    ServerLearningRate() {
      super(FedAvg.builder());
    }

    @Override
    protected Parameters serverUpdate(
        int round, Parameters global, Parameters average, AveragingKernel kernel) {
      float[] g = global.get("w").toFloatArray();
      float[] a = average.get("w").toFloatArray();
      float[] next = new float[g.length];
      for (int i = 0; i < g.length; i++) {
        next[i] = g[i] + 0.5f * (a[i] - g[i]);
      }
      return Parameters.of(Tensor.ofFloats("w", next));
    }
  }

  @Test
  void fitConfigHook_addsToTheBuildersConfig_andSamplingIsInherited() {
    List<Instruction> fit = new WithProximalTerm().configureFit(1, Parameters.of(
        Tensor.ofFloats("w", 0f)), List.of("learner-1", "learner-2"));

    assertEquals(2, fit.size());
    for (Instruction instruction : fit) {
      assertEquals(2L, ((Number) instruction.config().values().get("local_epochs")).longValue());
      assertEquals(0.1, instruction.config().values().get("proximal_mu"));
    }
  }

  @Test
  void serverUpdateHook_turnsTheWeightedMeanIntoTheNewGlobal() {
    Parameters global = Parameters.of(Tensor.ofFloats("w", 2f, 4f));
    FitAggregation aggregation =
        new ServerLearningRate().beginFitAggregation(1, global, new FedAvgTest.DoubleKernel());
    for (float[] values : new float[][] {{4f, 8f}, {8f, 16f}}) {
      BorrowedUpdate update = BorrowedUpdate.lend("l",
          FitResult.of(Parameters.of(Tensor.ofFloats("w", values)), 10));
      aggregation.accept(update);
      update.release();
    }

    AggregationResult result = aggregation.finish(List.of());

    // mean (6, 12); global + 0.5 * (mean - global) = (4, 8)
    assertArrayEquals(new float[] {4f, 8f},
        result.parameters().orElseThrow().get("w").toFloatArray());
    assertEquals(20, result.totalExamples());
  }
}
