package dev.flops.aggregator.kernel;

import dev.flops.api.InvalidResultException;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.TensorOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Weighted averaging whose result does not depend on the order the updates arrive in: the global
 * model is bit-identical whatever the thread timing, so two runs of the same seeded federation
 * stay equal round after round.
 *
 * <p>Why: the native kernel folds updates in float32 in arrival order ({@code saxpy}, with fused
 * multiply-adds), and float addition is not associative, so which learner finishes first changes
 * the last bits of the mean; over rounds of training those bits grow into different models.
 *
 * <p>How: a float32 value is {@code x = m 2^e} with an integer {@code |m| < 2^24}, and a weight
 * here is an integer {@code w} (an example count), so every term {@code w x = (m w) 2^e} is an
 * integer {@code m w < 2^56} times a power of two. Each element keeps a 128-bit two's complement
 * fixed-point accumulator with its binary point at {@code 2^-64} ({@value #FRACTION_BITS}
 * fraction bits). A term on that grid ({@code |x| >= 2^-41}, for any weight) is added exactly; a
 * smaller one is first rounded, on its own, to the nearest multiple of {@code 2^-64} (ties away
 * from zero). Integer addition is associative and commutative, so the accumulators, and the mean
 * computed from them, are the same in every order. The mean of an element is its accumulator
 * converted once to double (correctly rounded), divided by the total weight (exact as a double)
 * and rounded once to float32.
 *
 * <p>Error bound. Per term: 0 for {@code |x| >= 2^-41}, else at most {@code 2^-65} absolute. Of
 * the mean {@code mu = sum(w_i x_i) / sum(w_i)}: the result differs from {@code mu} by at most
 * {@code (1/2 + 2^-28) ulp(mu) + 2^-65}, where {@code ulp} is float32's unit in the last place
 * (the term roundings add at most {@code n 2^-65 / sum(w_i) <= 2^-65}, since every weight is at
 * least 1; the conversion to double and the division add at most {@code 2^-52 |mu|}, which is
 * below {@code 2^-28 ulp(mu)}). So the mean is float32's nearest value to the exact one except
 * when the exact one lies that close to a tie between two floats. The native kernel's error, by
 * contrast, grows with the number of updates and depends on their order.
 *
 * <p>Range: what the 128 bits hold, checked before an update touches the sums. Every value must
 * have {@code |x| < 2^22} ({@value #MAX_MAGNITUDE}; NaN and infinities are refused too), every
 * weight must be an integer from 1 to {@code 2^32} (what a learner may report as its number of
 * examples), and a sum's weights may add up to at most {@code 2^41} (about 2.2e12 examples).
 * Then every accumulator stays below {@code 2^41 * 2^22 * 2^64 = 2^127} in magnitude. An update
 * that breaks a value rule or the total is refused with an {@link InvalidResultException} naming
 * the tensor, the element, the value and the range, and the sum stays exactly as it was: the
 * aggregator then refuses that learner's update like any other invalid result. A weight that is
 * not an integer is refused with an {@link IllegalArgumentException} (scale the weights to
 * integers: the mean does not change); FedAvg's weights are example counts and always qualify.
 *
 * <p>Cost: each parameter takes 16 bytes of accumulator on the Java heap (two {@code long}s) while
 * a sum is open, four times the native kernel's 4 bytes, plus 4 bytes of direct memory for the
 * mean; a fold reads the update's 4 bytes twice (the range check, then the sum) and reads and
 * writes the 16, in one Java thread. benchmarks/README.md ("Issue 12: reproducible aggregation")
 * has its fold time beside the native kernel's; it is why this kernel is a choice
 * ({@code Aggregator.Builder.reproducibleAggregation}) and not the default.
 *
 * <p>{@link #ops()} are the given kernel's: element-wise operations, already deterministic. Sums
 * are not thread-safe; the aggregator folds one update at a time.
 */
public final class ExactAveraging implements AveragingKernel, ResultOwner {

  /** Bits of every accumulator below the binary point: its grid is {@code 2^-64}. */
  public static final int FRACTION_BITS = 64;
  /** Every value summed must be smaller than this in magnitude: {@code 2^22}. */
  public static final float MAX_MAGNITUDE = 0x1p22f;
  /** The largest weight of one update: {@code 2^32}, the most examples a result may report. */
  public static final long MAX_WEIGHT = 1L << 32;
  /** The largest total weight of one sum: {@code 2^41}. */
  public static final long MAX_TOTAL_WEIGHT = 1L << 41;

  /** Bits of {@link #MAX_MAGNITUDE}: a larger |bits| is out of range, or NaN, or infinite. */
  private static final int LIMIT_BITS = Float.floatToRawIntBits(MAX_MAGNITUDE);
  /** float32's exponent bias plus its 23 fraction bits: {@code x = m 2^(E - 150)}. */
  private static final int EXPONENT_OFFSET = 150;

  private final AveragingKernel operations;
  private final ResultMemory results = new ResultMemory();

  /**
   * Creates the kernel.
   *
   * @param operations the kernel whose {@link #ops()} this one offers (usually the native
   *     {@link Nd4jAveraging}, or {@link JavaAveraging} without ND4J); its sums are not used
   * @throws NullPointerException if {@code operations} is null
   */
  public ExactAveraging(AveragingKernel operations) {
    Objects.requireNonNull(operations, "operations");
    this.operations =
        operations instanceof ExactAveraging exact ? exact.operations : operations;
  }

  /**
   * Starts an empty exact sum.
   *
   * @param template parameters whose names and shapes the sum takes; values ignored
   * @return a new, empty sum; {@link WeightedSum#add} follows the rules of this class
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  @Override
  public WeightedSum begin(Parameters template) {
    return new Sum(Layout.of(template), results);
  }

  /** Records each mean's buffers (direct, one per tensor). */
  @Override
  public ResultMemory results() {
    return results;
  }

  /**
   * Returns the operations of the kernel given to the constructor.
   *
   * @return that kernel's operations
   */
  @Override
  public TensorOps ops() {
    return operations.ops();
  }

  @Override
  public String toString() {
    return "exact";
  }

  private static final class Sum implements WeightedSum {
    private final Layout layout;
    private final ResultMemory results;
    /** Per tensor, element i's accumulator at [2i] (low 64 bits) and [2i + 1] (high, signed). */
    private final long[][] sums;
    private int count;
    private long totalWeight;
    private boolean ended;

    Sum(Layout layout, ResultMemory results) {
      this.layout = layout;
      this.results = results;
      this.sums = new long[layout.tensors()][];
      for (int t = 0; t < sums.length; t++) {
        sums[t] = new long[Math.multiplyExact(layout.size(t), 2)];
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
      Sums.checkOpen(ended);
      Sums.checkWeight(weight);
      Objects.requireNonNull(parameters, "parameters");
      layout.describeMismatch(parameters).ifPresent(mismatch -> {
        throw new IllegalArgumentException("cannot add parameters to the sum: " + mismatch);
      });
      long w = integerWeight(weight);
      if (totalWeight + w > MAX_TOTAL_WEIGHT) {
        throw new InvalidResultException(String.format(Locale.ROOT, "the update's weight %d "
            + "would bring the sum's total weight to %d, above the %d (2^41) that the exact "
            + "averaging kernel holds; the update is refused, the sum is unchanged",
            w, totalWeight + w, MAX_TOTAL_WEIGHT));
      }
      List<Tensor> tensors = parameters.tensors();
      for (int t = 0; t < sums.length; t++) {
        checkRange(tensors.get(t));
      }
      for (int t = 0; t < sums.length; t++) {
        fold(sums[t], tensors.get(t).data(), layout.size(t), w);
      }
      count++;
      totalWeight += w;
    }

    @Override
    public int count() {
      return count;
    }

    @Override
    public double totalWeight() {
      return totalWeight;
    }

    @Override
    public Parameters mean() {
      Sums.checkOpen(ended);
      Sums.checkNotEmpty(count);
      ended = true;
      List<Tensor> tensors = new ArrayList<>(sums.length);
      List<ByteBuffer> buffers = new ArrayList<>(sums.length);
      double total = totalWeight; // exact: below 2^53
      for (int t = 0; t < sums.length; t++) {
        long[] sum = sums[t];
        int n = layout.size(t);
        ByteBuffer out = ByteBuffer.allocateDirect(Math.multiplyExact(n, Float.BYTES))
            .order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
          out.putFloat(i * Float.BYTES, toFloat(sum[2 * i], sum[2 * i + 1], total));
        }
        sums[t] = null; // the accumulators can go before the next tensor's output is allocated
        buffers.add(out);
        tensors.add(layout.tensor(t, out));
      }
      Parameters mean = new Parameters(tensors);
      results.track(mean, buffers);
      return mean;
    }

    @Override
    public void close() {
      ended = true;
      Arrays.fill(sums, null);
    }
  }

  /** The weight as an integer in [1, 2^32], or an error naming it. */
  private static long integerWeight(double weight) {
    if (weight != Math.rint(weight) || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "the exact averaging kernel "
          + "sums integer weights from 1 to %d (2^32), such as example counts, but got %s; scale "
          + "the weights to integers (the mean does not change) or use the native kernel",
          MAX_WEIGHT, weight));
    }
    return (long) weight;
  }

  /** Refuses the tensor if a value is outside (-2^22, 2^22), naming the first one. */
  private static void checkRange(Tensor tensor) {
    ByteBuffer x = tensor.data();
    int n = x.remaining() / Float.BYTES;
    int largest = 0;
    // A maximum without an early exit: a loop the JIT keeps branch-free.
    for (int i = 0; i < n; i++) {
      largest = Math.max(largest, x.getInt(i * Float.BYTES) & 0x7FFFFFFF);
    }
    if (largest < LIMIT_BITS) {
      return;
    }
    for (int i = 0; i < n; i++) {
      float value = x.getFloat(i * Float.BYTES);
      if (!(Math.abs(value) < MAX_MAGNITUDE)) {
        throw new InvalidResultException(String.format(Locale.ROOT, "%s[%d] is %s, outside the "
            + "range the exact averaging kernel sums, |x| < %s (2^22); the update is refused, "
            + "the sum is unchanged (a value that large is most likely a diverged or hostile "
            + "update)", tensor.name(), i, value, MAX_MAGNITUDE));
      }
    }
  }

  /**
   * Adds {@code w x_i} to accumulator i for every element: x's little-endian float32 values, each
   * already checked to be below {@code 2^22} in magnitude, and {@code w <= 2^32}.
   */
  static void fold(long[] sum, ByteBuffer x, int n, long w) {
    for (int i = 0; i < n; i++) {
      int bits = x.getInt(i * Float.BYTES);
      int biased = (bits >>> 23) & 0xFF;
      long m = (bits & 0x7FFFFF) | (biased == 0 ? 0 : 0x800000);
      if (m == 0) {
        continue; // +0 and -0
      }
      long p = m * w; // < 2^56
      long signMask = bits >> 31; // 0, or -1 for a negative value
      // The term is p 2^(e + 64) units of 2^-64, e = max(biased, 1) - 150: a shift of at most
      // 148 - 86 = 62 for |x| < 2^22.
      int shift = Math.max(biased, 1) - EXPONENT_OFFSET + FRACTION_BITS;
      long lo;
      long hi;
      if (shift >= 0) {
        long signed = (p ^ signMask) - signMask;
        lo = signed << shift;
        hi = (signed >> 1) >> (63 - shift); // signed >> (64 - shift), also for shift 0
      } else {
        // Below the grid: round the magnitude to the nearest unit, ties away from zero, so that
        // the rounding is symmetric in sign. A shift of 62 already rounds any p < 2^56 to 0.
        int k = Math.min(-shift, 62);
        long rounded = (p + (1L << (k - 1))) >>> k;
        lo = (rounded ^ signMask) - signMask;
        hi = lo >> 63;
      }
      int j = 2 * i;
      long a = sum[j];
      long s = a + lo;
      long carry = ((a & lo) | ((a | lo) & ~s)) >>> 63;
      sum[j] = s;
      sum[j + 1] += hi + carry;
    }
  }

  /**
   * The float32 nearest (within the class's bound) to {@code (hi:lo) 2^-64 / total}: the 128-bit
   * accumulator converted to double with one rounding, divided by the exact total, then rounded
   * to float32.
   */
  static float toFloat(long lo, long hi, double total) {
    if (hi == (lo >> 63)) { // the accumulator fits a long: Java's conversion rounds correctly
      return (float) (Math.scalb((double) lo, -FRACTION_BITS) / total);
    }
    boolean negative = hi < 0;
    if (negative) {
      lo = -lo;
      hi = lo == 0 ? -hi : ~hi;
    }
    // |A| has L = 128 - nlz(hi) bits, 64 < L <= 127. Keep its top 63 bits with a sticky bit for
    // the rest: 63 > 53 + 1 bits, so converting them rounds as converting |A| would.
    int k = 65 - Long.numberOfLeadingZeros(hi); // L - 63, in [1, 64]
    long top;
    boolean sticky;
    if (k == 64) {
      top = hi;
      sticky = lo != 0;
    } else {
      top = (hi << (64 - k)) | (lo >>> k);
      sticky = (lo << (64 - k)) != 0;
    }
    double magnitude = Math.scalb((double) (top | (sticky ? 1 : 0)), k - FRACTION_BITS);
    float mean = (float) (magnitude / total);
    return negative ? -mean : mean;
  }
}
