package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FitResult;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FitAggregation;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** FedAvg's arithmetic on both kernels against a double-precision reference. */
class AveragingKernelTest {

  /** float32 accumulation of up to 7 weighted updates of N(0,1) values, relative to the scale. */
  private static final double TOLERANCE = 1e-5;

  static Stream<AveragingKernel> kernels() {
    return Stream.of(new Nd4jAveraging(), new JavaAveraging());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void fedAvg_matchesDoublePrecisionReference_withUnequalExampleCounts(AveragingKernel kernel) {
    Random random = new Random(7);
    long[] examples = {1, 17, 250, 3000, 12, 60000, 5};
    List<Parameters> updates = new ArrayList<>();
    for (int learner = 0; learner < examples.length; learner++) {
      updates.add(parameters(random));
    }
    FitAggregation aggregation =
        FedAvg.withDefaults().beginFitAggregation(1, updates.get(0), kernel);
    for (int learner = 0; learner < examples.length; learner++) {
      aggregation.accept(new LearnerResult<>("learner-" + learner,
          FitResult.of(updates.get(learner), examples[learner])));
    }
    Optional<Parameters> mean = aggregation.finish(List.of());

    assertTrue(mean.isPresent());
    Parameters actual = mean.get();
    assertEquals(updates.get(0).names(), actual.names());
    double total = 0;
    for (long n : examples) {
      total += n;
    }
    for (int t = 0; t < actual.size(); t++) {
      Tensor tensor = actual.tensors().get(t);
      assertTrue(tensor.sameSpec(updates.get(0).tensors().get(t)));
      float[] values = tensor.toFloatArray();
      double[] reference = new double[values.length];
      for (int learner = 0; learner < examples.length; learner++) {
        float[] update = updates.get(learner).tensors().get(t).toFloatArray();
        for (int i = 0; i < values.length; i++) {
          reference[i] += examples[learner] * (double) update[i] / total;
        }
      }
      for (int i = 0; i < values.length; i++) {
        assertEquals(reference[i], values[i], TOLERANCE,
            tensor.name() + "[" + i + "] with kernel " + kernel);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void weightedSum_rejectsOtherStructureAndBadWeights(AveragingKernel kernel) {
    Parameters template = Parameters.of(Tensor.ofFloats("w", new long[] {2, 2}, new float[4]));
    try (AveragingKernel.WeightedSum sum = kernel.begin(template)) {
      IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> sum.add(
          Parameters.of(Tensor.ofFloats("w", new long[] {4}, new float[4])), 1));
      assertTrue(shape.getMessage().contains("w FLOAT32[2, 2]"), shape.getMessage());
      assertThrows(IllegalArgumentException.class, () -> sum.add(template, 0));
      assertThrows(IllegalArgumentException.class, () -> sum.add(template, Double.NaN));
      assertThrows(IllegalStateException.class, sum::mean);
      assertEquals(0, sum.count(), "rejected additions leave the sum empty");
    }
  }

  /** Two small tensors and one of 1.1M floats (4.4 MB, larger than a 4 MiB chunk). */
  private static Parameters parameters(Random random) {
    return Parameters.of(
        Tensor.ofFloats("0_W", new long[] {13, 7}, gaussian(random, 91)),
        Tensor.ofFloats("0_b", new long[] {7}, gaussian(random, 7)),
        Tensor.ofFloats("big", new long[] {1100, 1000}, gaussian(random, 1_100_000)));
  }

  private static float[] gaussian(Random random, int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }
}
