package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FitAggregation;
import dev.flops.api.strategy.MutableParameters;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The README's FedAvg variant, as written there, on both kernels. */
class ServerLearningRateTest {

  /** A server learning rate (FedAvgM without momentum): global + eta * (mean - global). */
  static final class ServerLearningRate extends FedAvg {
    ServerLearningRate() {
      super(FedAvg.builder().fractionFit(0.5));
    }

    @Override
    protected Parameters serverUpdate(int round, Parameters global, Parameters average,
        AveragingKernel kernel) {
      try (MutableParameters x = kernel.ops().copyOf(global)) {   // off-heap with the ND4J kernel
        return x.scale(0.5).axpy(0.5, average).snapshot();        // 0.5 global + 0.5 average
      }
    }
  }

  static Stream<AveragingKernel> kernels() {
    return Stream.of(new JavaAveraging(), new Nd4jAveraging());
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void halfwayBetweenTheGlobalAndTheWeightedMean(AveragingKernel kernel) {
    Parameters global = Parameters.of(Tensor.ofFloats("w", 2f, -4f));
    FitAggregation aggregation = new ServerLearningRate().beginFitAggregation(1, global, kernel);
    for (float[] values : new float[][] {{4f, 0f}, {10f, 8f}}) {
      BorrowedUpdate update = BorrowedUpdate.lend("l",
          FitResult.of(Parameters.of(Tensor.ofFloats("w", values)), 10));
      aggregation.accept(update);
      update.release();
    }

    Parameters next = aggregation.finish(List.of()).parameters().orElseThrow();

    // mean (7, 4); 0.5 * (2, -4) + 0.5 * (7, 4) = (4.5, 0)
    assertArrayEquals(new float[] {4.5f, 0f}, next.get("w").toFloatArray(), 1e-6f);
  }
}
