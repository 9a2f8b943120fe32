package dev.flops.benchmarks.synthetic;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Synthetic float32 models of a given size: {@code P} parameters cut into tensors of at most
 * {@code maxTensorElements} elements each, named {@code t0}, {@code t1}, ... A single tensor holds
 * at most 2^31 - 1 bytes (one {@link ByteBuffer}), so a model above 2 GB needs several.
 */
public final class SyntheticParameters {

  /** The default largest tensor: 16 Mi elements (64 MiB), the order of a large real layer. */
  public static final int DEFAULT_MAX_TENSOR_ELEMENTS = 1 << 24;

  /** Largest tensor a {@link ByteBuffer} can hold, in float32 elements. */
  static final int MAX_ELEMENTS_PER_BUFFER = Integer.MAX_VALUE / 4;

  private static final int BLOCK = 1 << 16;

  private SyntheticParameters() {}

  /**
   * Returns the tensor sizes for {@code p} parameters: as few tensors as {@code maxTensorElements}
   * allows, of sizes that differ by at most one element.
   *
   * @param p the parameter count, at least 1
   * @param maxTensorElements the largest tensor, from 1 to 2^29 - 1
   * @return the element count of each tensor, summing to {@code p}
   * @throws IllegalArgumentException if a value is out of range
   */
  public static int[] layout(long p, int maxTensorElements) {
    if (p < 1) {
      throw new IllegalArgumentException("the parameter count P must be at least 1 but was " + p);
    }
    if (maxTensorElements < 1 || maxTensorElements > MAX_ELEMENTS_PER_BUFFER) {
      throw new IllegalArgumentException(String.format(
          "maxTensorElements must be in [1, %d] (one ByteBuffer) but was %d",
          MAX_ELEMENTS_PER_BUFFER, maxTensorElements));
    }
    long count = (p + maxTensorElements - 1) / maxTensorElements;
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(String.format(
          "P=%d in tensors of at most %d elements makes %d tensors; raise maxTensorElements",
          p, maxTensorElements, count));
    }
    int[] sizes = new int[(int) count];
    long base = p / count;
    long extra = p % count;
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = (int) (base + (i < extra ? 1 : 0));
    }
    return sizes;
  }

  /**
   * Creates {@code p} float32 parameters with small pseudo-random values in [-0.05, 0.05).
   *
   * @param p the parameter count, at least 1
   * @param maxTensorElements the largest tensor (see {@link #layout})
   * @param seed the seed of the values
   * @return the parameters, one 1-d tensor per entry of {@link #layout}
   * @throws IllegalArgumentException if a value is out of range
   */
  public static Parameters create(long p, int maxTensorElements, long seed) {
    int[] sizes = layout(p, maxTensorElements);
    List<Tensor> tensors = new ArrayList<>(sizes.length);
    Noise noise = new Noise(seed, 0.05f);
    float[] block = new float[Math.min(BLOCK, sizes[0])];
    for (int t = 0; t < sizes.length; t++) {
      ByteBuffer data = ByteBuffer.allocateDirect(sizes[t] * 4).order(ByteOrder.LITTLE_ENDIAN);
      FloatBuffer values = data.asFloatBuffer();
      while (values.hasRemaining()) {
        int n = Math.min(block.length, values.remaining());
        Arrays.fill(block, 0, n, 0f);
        noise.addTo(block, n);
        values.put(block, 0, n);
      }
      tensors.add(new Tensor("t" + t, DType.FLOAT32, new long[] {sizes[t]}, data));
    }
    return new Parameters(tensors);
  }

  /**
   * Returns a copy of {@code parameters} with noise added to every float32 value ({@link
   * Noise#addRepeating}), reading and writing in blocks so that the copy costs about one pass over
   * the data.
   *
   * @param parameters float32 parameters
   * @param noise the noise source
   * @return new parameters with the same names and shapes
   * @throws IllegalArgumentException if a tensor is not FLOAT32
   */
  public static Parameters withNoise(Parameters parameters, Noise noise) {
    return withNoise(parameters, noise, new ByteBuffer[parameters.size()]);
  }

  /**
   * As {@link #withNoise(Parameters, Noise)}, but writes into the buffers of {@code reuse} (one
   * writable direct buffer per tensor) where they have the tensor's size, and allocates, into
   * {@code reuse}, only where not: a fresh 40 MB direct buffer costs its pages' faults, the
   * kernel's zeroing and an unmap each time (in the harness, a quarter of a learner's CPU a round
   * at 10M parameters).
   *
   * @param parameters float32 parameters
   * @param noise the noise source
   * @param reuse one entry per tensor: a buffer to overwrite, or null; updated in place
   * @return parameters over the buffers now in {@code reuse}
   * @throws IllegalArgumentException if a tensor is not FLOAT32, or {@code reuse} has another
   *     length than the tensor count
   */
  public static Parameters withNoise(Parameters parameters, Noise noise, ByteBuffer[] reuse) {
    if (reuse.length != parameters.size()) {
      throw new IllegalArgumentException("reuse has " + reuse.length + " buffers for "
          + parameters.size() + " tensors");
    }
    List<Tensor> tensors = new ArrayList<>(parameters.size());
    float[] block = new float[BLOCK];
    for (int t = 0; t < parameters.size(); t++) {
      Tensor tensor = parameters.tensors().get(t);
      if (tensor.dtype() != DType.FLOAT32) {
        throw new IllegalArgumentException(
            "synthetic training handles FLOAT32 tensors only, not " + tensor.spec());
      }
      int bytes = Math.toIntExact(tensor.byteSize());
      if (reuse[t] == null || reuse[t].capacity() != bytes) {
        reuse[t] = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
      }
      ByteBuffer data = reuse[t].clear();
      FloatBuffer in = tensor.data().asFloatBuffer();
      FloatBuffer out = data.asFloatBuffer();
      while (in.hasRemaining()) {
        int n = Math.min(block.length, in.remaining());
        in.get(block, 0, n);
        noise.addRepeating(block, n);
        out.put(block, 0, n);
      }
      tensors.add(new Tensor(tensor.name(), DType.FLOAT32, tensor.shape(), data));
    }
    return new Parameters(tensors);
  }

  /**
   * Cheap uniform noise (xorshift32) for synthetic training, which must not dominate the round time
   * it is meant to leave to the aggregator and the wire. {@link #addTo} draws a fresh value per
   * element (a chain of dependent shifts: about 3-4 ns a value in the learner JVMs' C1-only code);
   * {@link #addRepeating} adds a table of {@value #TABLE_SIZE} values drawn once, from a fresh
   * random offset per call (one load and one add per element). Not thread-safe.
   */
  public static final class Noise {
    /** Values in the table {@link #addRepeating} cycles through. */
    static final int TABLE_SIZE = 1 << 16;

    private final float scale;
    private int state;
    private float[] table;

    /**
     * Creates a noise source.
     *
     * @param seed the seed (any value)
     * @param amplitude noise values lie in [-amplitude, amplitude); finite and non-negative
     * @throws IllegalArgumentException if the amplitude is negative or not finite
     */
    public Noise(long seed, float amplitude) {
      if (!(amplitude >= 0) || Float.isInfinite(amplitude)) {
        throw new IllegalArgumentException(
            "the noise amplitude must be finite and non-negative but was " + amplitude);
      }
      this.scale = amplitude * 0x1p-23f;
      int mixed = (int) (seed ^ (seed >>> 32)) * 0x9E3779B9;
      this.state = mixed == 0 ? 0x2545F491 : mixed;
    }

    /**
     * Adds a fresh noise value to each of the first {@code n} values.
     *
     * @param values the values to change in place
     * @param n how many
     */
    public void addTo(float[] values, int n) {
      int x = state;
      float s = scale;
      for (int i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        // the top 24 bits as a signed integer in [-2^23, 2^23), scaled to [-amplitude, amplitude)
        values[i] += (x >> 8) * s;
      }
      state = x;
    }

    /**
     * Adds noise to each of the first {@code n} values from a table of {@value #TABLE_SIZE} noise
     * values (drawn by {@link #addTo} on the first call), starting at a fresh pseudo-random
     * position each call: every value moves by a noise value, and two calls (two fits, two
     * learners with other seeds) almost never line up, at the cost of one load and one add per
     * value.
     *
     * @param values the values to change in place
     * @param n how many
     */
    public void addRepeating(float[] values, int n) {
      if (table == null) {
        table = new float[TABLE_SIZE];
        addTo(table, TABLE_SIZE);
      }
      float[] t = table;
      int start = next() & (TABLE_SIZE - 1);
      int first = Math.min(n, TABLE_SIZE - start);
      for (int i = 0; i < first; i++) {
        values[i] += t[start + i];
      }
      for (int i = first; i < n; i++) {
        values[i] += t[(start + i) & (TABLE_SIZE - 1)];
      }
    }

    private int next() {
      int x = state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      state = x;
      return x;
    }
  }
}
