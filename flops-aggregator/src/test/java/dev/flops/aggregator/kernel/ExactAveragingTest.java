package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.InvalidResultException;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.AveragingKernel.WeightedSum;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The exact kernel: the same bits in every arrival order, within its documented bound. */
class ExactAveragingTest {

  /** Unequal example counts, from 1 to the most a result may report (2^32). */
  private static final long[] WEIGHTS = {1, 7, 250, 3000, 60_001, 1L << 32};

  private final AveragingKernel exact = new ExactAveraging(new JavaAveraging());

  @Test
  void mean_isBitIdentical_inEveryOrderOfSixUpdates_andWithinTheBoundOfTheExactMean() {
    List<Parameters> updates = mixedMagnitudes(new Random(3));
    List<List<Integer>> orders = permutations(List.of(0, 1, 2, 3, 4, 5));
    assertEquals(720, orders.size());

    Parameters first = mean(exact, updates, orders.get(0));
    for (List<Integer> order : orders) {
      assertBitIdentical(first, mean(exact, updates, order), "arrival " + order);
    }
    assertWithinBound(first, updates);
  }

  /**
   * What the exact kernel fixes: float32 folding in arrival order (here the plain-Java kernel,
   * single-threaded and so itself deterministic for a given order) gives different bits for
   * different orders of the same updates.
   */
  @Test
  void float32Folding_givesDifferentBits_inDifferentOrders() {
    List<Parameters> updates = mixedMagnitudes(new Random(3));
    Set<List<ByteBuffer>> distinct = new HashSet<>();
    for (List<Integer> order : permutations(List.of(0, 1, 2, 3, 4, 5)).subList(0, 120)) {
      distinct.add(bits(mean(new JavaAveraging(), updates, order)));
    }
    assertTrue(distinct.size() > 1, "float32 folding happened to agree in every order");
  }

  @Test
  void outOfRangeValue_isRefusedWithItsNameAndTheRange_andLeavesTheSumUntouched() {
    List<Parameters> updates = mixedMagnitudes(new Random(5));
    float[] big = updates.get(2).get("b").toFloatArray();
    big[3] = 5e6f;
    Parameters hostile = Parameters.of(updates.get(2).get("w"), Tensor.ofFloats("b", big));

    Parameters withRefusal;
    try (WeightedSum sum = exact.begin(updates.get(0))) {
      sum.add(updates.get(0), 3);
      InvalidResultException refused =
          assertThrows(InvalidResultException.class, () -> sum.add(hostile, 5));
      assertTrue(refused.getMessage().contains("b[3] is 5000000.0"), refused.getMessage());
      assertTrue(refused.getMessage().contains("|x| < 4194304.0 (2^22)"), refused.getMessage());
      assertEquals(1, sum.count());
      assertEquals(3.0, sum.totalWeight());
      float[] nan = updates.get(1).get("w").toFloatArray();
      nan[0] = Float.NaN;
      assertThrows(InvalidResultException.class, () -> sum.add(
          Parameters.of(Tensor.ofFloats("w", new long[] {40, 5}, nan), updates.get(1).get("b")),
          1));
      sum.add(updates.get(1), 4);
      withRefusal = sum.mean();
    }
    Parameters without;
    try (WeightedSum sum = exact.begin(updates.get(0))) {
      sum.add(updates.get(0), 3);
      sum.add(updates.get(1), 4);
      without = sum.mean();
    }
    assertBitIdentical(without, withRefusal, "a refused update must leave no trace");
  }

  @Test
  void weightsThatAreNotIntegersOrExceedTheLimits_areRefused() {
    Parameters one = Parameters.of(Tensor.ofFloats("w", 1f, -2f));
    try (WeightedSum sum = exact.begin(one)) {
      IllegalArgumentException fraction =
          assertThrows(IllegalArgumentException.class, () -> sum.add(one, 0.5));
      assertTrue(fraction.getMessage().contains("integer weights"), fraction.getMessage());
      assertThrows(IllegalArgumentException.class, () -> sum.add(one, (1L << 32) + 1.0));
      for (int i = 0; i < 512; i++) {
        sum.add(one, ExactAveraging.MAX_WEIGHT); // 512 * 2^32 = 2^41, the most a sum holds
      }
      InvalidResultException total =
          assertThrows(InvalidResultException.class, () -> sum.add(one, 1));
      assertTrue(total.getMessage().contains("2^41"), total.getMessage());
      assertArrayEquals(new float[] {1f, -2f}, sum.mean().get("w").toFloatArray(),
          "the largest values at the largest total weight still sum exactly");
    }
  }

  @Test
  void extremeInRangeValues_atTheLargestTotalWeight_stayWithinTheBound() {
    float max = Math.nextDown(ExactAveraging.MAX_MAGNITUDE);
    Parameters high = Parameters.of(
        Tensor.ofFloats("w", max, -max, Float.MIN_VALUE, 1e-30f, 3.5f, -0f));
    Parameters low = Parameters.of(
        Tensor.ofFloats("w", max, -max, -Float.MIN_VALUE, 1f, -3.25f, 0f));
    List<Parameters> updates = new ArrayList<>();
    List<Long> weights = new ArrayList<>();
    for (int i = 0; i < 512; i++) {
      updates.add(i % 3 == 0 ? low : high);
      weights.add(ExactAveraging.MAX_WEIGHT - i);
    }
    try (WeightedSum sum = exact.begin(high)) {
      for (int i = 0; i < updates.size(); i++) {
        sum.add(updates.get(i), weights.get(i));
      }
      Parameters mean = sum.mean();
      float[] values = mean.get("w").toFloatArray();
      assertEquals(max, values[0]);
      assertEquals(-max, values[1]);
      for (int i = 2; i < values.length; i++) {
        BigDecimal reference = exactMean(updates, weights, "w", i);
        assertWithin(reference, values[i], updates.size(), "w[" + i + "]");
      }
    }
  }

  @Test
  void toFloat_roundsWideAccumulatorsAsTheDocumentedBoundSays() {
    Random random = new Random(9);
    for (int trial = 0; trial < 20_000; trial++) {
      long hi = random.nextLong() >> random.nextInt(64);
      if (hi == Long.MIN_VALUE) {
        continue; // -2^127: beyond the kernel's range
      }
      long lo = random.nextLong();
      long total = 1 + (random.nextLong() >>> (23 + random.nextInt(40)));
      BigInteger accumulator = BigInteger.valueOf(hi).shiftLeft(64)
          .add(new BigInteger(Long.toUnsignedString(lo)));
      BigDecimal exactMean = new BigDecimal(accumulator)
          .divide(new BigDecimal(total).multiply(new BigDecimal(BigInteger.ONE.shiftLeft(64))),
              new MathContext(60, RoundingMode.HALF_EVEN));
      float actual = ExactAveraging.toFloat(lo, hi, total);
      assertWithin(exactMean, actual, 0, "hi " + hi + ", lo " + lo + ", total " + total);
    }
  }

  @Test
  void ops_areTheGivenKernels() {
    Parameters one = Parameters.of(Tensor.ofFloats("w", 1f, 2f));
    try (var buffer = exact.ops().zeros(one)) {
      assertSame(JavaBuffer.class, buffer.getClass());
    }
    assertEquals("exact", exact.toString());
  }

  /** |actual - exact| <= (1/2 + 2^-28) ulp(exact) + terms * 2^-65, the class's bound. */
  private static void assertWithin(BigDecimal exact, float actual, int terms, String what) {
    float nearest = exact.floatValue();
    double ulp = Math.ulp(Math.abs(nearest) == 0 ? Float.MIN_VALUE : nearest);
    BigDecimal bound = new BigDecimal(ulp).multiply(new BigDecimal(0.5 + 0x1p-28))
        .add(new BigDecimal(0x1p-65).multiply(BigDecimal.valueOf(Math.max(terms, 1))));
    BigDecimal error = new BigDecimal(actual).subtract(exact).abs();
    assertTrue(error.compareTo(bound) <= 0,
        what + ": " + actual + " is " + error + " from the exact " + exact + ", bound " + bound);
  }

  private static void assertWithinBound(Parameters mean, List<Parameters> updates) {
    List<Long> weights = new ArrayList<>();
    for (long w : WEIGHTS) {
      weights.add(w);
    }
    for (Tensor tensor : mean) {
      float[] values = tensor.toFloatArray();
      for (int i = 0; i < values.length; i++) {
        assertWithin(exactMean(updates, weights, tensor.name(), i), values[i], updates.size(),
            tensor.name() + "[" + i + "]");
      }
    }
  }

  /** sum(w x) / sum(w) in BigDecimal: exact sum, a 60-digit quotient. */
  private static BigDecimal exactMean(List<Parameters> updates, List<Long> weights, String name,
      int index) {
    BigDecimal sum = BigDecimal.ZERO;
    BigDecimal total = BigDecimal.ZERO;
    for (int u = 0; u < updates.size(); u++) {
      float x = updates.get(u).get(name).toFloatArray()[index];
      sum = sum.add(new BigDecimal(x).multiply(BigDecimal.valueOf(weights.get(u))));
      total = total.add(BigDecimal.valueOf(weights.get(u)));
    }
    return sum.divide(total, new MathContext(60, RoundingMode.HALF_EVEN));
  }

  private static Parameters mean(AveragingKernel kernel, List<Parameters> updates,
      List<Integer> order) {
    try (WeightedSum sum = kernel.begin(updates.get(0))) {
      for (int u : order) {
        sum.add(updates.get(u), WEIGHTS[u]);
      }
      return sum.mean();
    }
  }

  /**
   * Six updates whose values span float32's range within the kernel's: O(1) weights, large ones
   * near 2^21, tiny and subnormal ones below the accumulator's grid, zeros of both signs; a direct
   * buffer for half of them, as the aggregator decodes uploads.
   */
  private static List<Parameters> mixedMagnitudes(Random random) {
    List<Parameters> updates = new ArrayList<>();
    for (int u = 0; u < WEIGHTS.length; u++) {
      float[] w = new float[200];
      for (int i = 0; i < w.length; i++) {
        double scale = switch (i % 5) {
          case 0 -> 1;
          case 1 -> 1e-3;
          case 2 -> Math.pow(2, random.nextInt(60) - 40);
          case 3 -> 1e-38 * random.nextDouble(); // subnormal or nearly
          default -> 1e6;
        };
        w[i] = (float) (random.nextGaussian() * scale);
      }
      w[0] = u % 2 == 0 ? 0f : -0f;
      float[] b = new float[7];
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) ((random.nextDouble() * 2 - 1) * 0.1);
      }
      Parameters update = Parameters.of(
          Tensor.ofFloats("w", new long[] {40, 5}, w), Tensor.ofFloats("b", b));
      updates.add(u % 2 == 0 ? AveragingKernelTest.offHeap(update) : update);
    }
    return updates;
  }

  private static void assertBitIdentical(Parameters expected, Parameters actual, String what) {
    assertEquals(bits(expected), bits(actual), what);
  }

  /** The data of every tensor: equal lists mean equal bits. */
  private static List<ByteBuffer> bits(Parameters parameters) {
    return parameters.tensors().stream().map(Tensor::data).toList();
  }

  private static List<List<Integer>> permutations(List<Integer> items) {
    if (items.isEmpty()) {
      return List.of(List.of());
    }
    List<List<Integer>> all = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      List<Integer> rest = new ArrayList<>(items);
      Integer head = rest.remove(i);
      for (List<Integer> tail : permutations(rest)) {
        List<Integer> permutation = new ArrayList<>();
        permutation.add(head);
        permutation.addAll(tail);
        all.add(permutation);
      }
    }
    return all;
  }
}
