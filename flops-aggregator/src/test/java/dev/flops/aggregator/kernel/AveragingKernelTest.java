package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FitResult;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FitAggregation;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** FedAvg's arithmetic on every kernel against a double-precision reference. */
class AveragingKernelTest {

  /** float32 accumulation of up to 40 weighted updates of N(0,1) values; the mean is O(0.1). */
  private static final double TOLERANCE = 1e-5;

  static Stream<AveragingKernel> kernels() {
    return Stream.of(new Nd4jAveraging(), new JavaAveraging(),
        new ExactAveraging(new JavaAveraging()));
  }

  static Stream<Arguments> kernelsAndLayouts() {
    return kernels().flatMap(kernel -> Stream.of(
        Arguments.of(kernel, "heap"), Arguments.of(kernel, "direct")));
  }

  @ParameterizedTest(name = "{0}, {1} updates")
  @MethodSource("kernelsAndLayouts")
  void fedAvg_matchesDoublePrecisionReference_withUnequalExampleCounts(
      AveragingKernel kernel, String layout) {
    Random random = new Random(7);
    long[] examples = {1, 17, 250, 3000, 12, 60000, 5};
    List<Parameters> updates = new ArrayList<>();
    for (int learner = 0; learner < examples.length; learner++) {
      Parameters update = parameters(random);
      updates.add(layout.equals("direct") ? offHeap(update) : update);
    }
    assertReferenceMean(kernel, updates, examples, order(examples.length, null));
  }

  /**
   * Streaming FedAvg folds updates in whatever order their uploads complete: every order gives
   * the reference mean within the float32 tolerance.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void fedAvg_matchesReference_inAnyArrivalOrder_forManyLearners(AveragingKernel kernel) {
    Random random = new Random(11);
    int learners = 40;
    long[] examples = new long[learners];
    List<Parameters> updates = new ArrayList<>();
    for (int learner = 0; learner < learners; learner++) {
      examples[learner] = 1 + random.nextInt(5000);
      updates.add(offHeap(Parameters.of(
          Tensor.ofFloats("w", new long[] {300, 50}, gaussian(random, 15_000)),
          Tensor.ofFloats("b", new long[] {50}, gaussian(random, 50)))));
    }
    for (long seed = 0; seed < 5; seed++) {
      assertReferenceMean(kernel, updates, examples, order(learners, new Random(seed)));
    }
  }

  private static List<Integer> order(int n, Random shuffle) {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      order.add(i);
    }
    if (shuffle != null) {
      Collections.shuffle(order, shuffle);
    }
    return order;
  }

  private static void assertReferenceMean(AveragingKernel kernel, List<Parameters> updates,
      long[] examples, List<Integer> arrival) {
    FitAggregation aggregation =
        FedAvg.withDefaults().beginFitAggregation(1, updates.get(0), kernel);
    for (int learner : arrival) {
      aggregation.accept(BorrowedUpdate.lend("learner-" + learner,
          FitResult.of(updates.get(learner), examples[learner])));
    }
    Optional<Parameters> mean = aggregation.finish(List.of()).parameters();

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
            tensor.name() + "[" + i + "] with kernel " + kernel + ", arrival " + arrival);
      }
    }
  }

  /** The same values in direct buffers, each a slice at an odd offset of a larger buffer. */
  static Parameters offHeap(Parameters parameters) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : parameters) {
      ByteBuffer block = ByteBuffer.allocateDirect((int) tensor.byteSize() + 64);
      block.position(36);
      ByteBuffer data = block.slice().order(ByteOrder.LITTLE_ENDIAN);
      data.put(tensor.data()).flip();
      tensors.add(new Tensor(tensor.name(), tensor.dtype(), tensor.shape(), data));
    }
    return new Parameters(tensors);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void mean_endsTheSum_andStaysValidAfterClose(AveragingKernel kernel) {
    Parameters update = offHeap(Parameters.of(Tensor.ofFloats("w", 1f, 2f, 4f)));
    Parameters mean;
    try (AveragingKernel.WeightedSum sum = kernel.begin(update)) {
      sum.add(update, 3);
      sum.add(update, 1);
      mean = sum.mean();
      IllegalStateException again = assertThrows(IllegalStateException.class, sum::mean);
      assertTrue(again.getMessage().contains("begin a new one"), again.getMessage());
      assertThrows(IllegalStateException.class, () -> sum.add(update, 1));
    }
    System.gc();
    assertArrayEquals(new float[] {1f, 2f, 4f}, mean.get("w").toFloatArray());
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
