package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.TensorOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Weighted averaging in plain Java over heap {@code float[]} sums, reading the update element by
 * element through a {@link FloatBuffer} view (heap or direct). The reference the native kernel is
 * measured against (benchmarks/README.md): a block-wise bulk copy into a {@code float[]} followed
 * by an array loop measured twice as slow at 10M floats on JDK 17.
 */
public final class JavaAveraging implements AveragingKernel {

  /** Floats per block: 16 KiB, well inside L1 next to the sum's cache lines. */
  static final int BLOCK = 4096;

  @Override
  public WeightedSum begin(Parameters template) {
    Sums.checkTemplate(template);
    return new Sum(template);
  }

  /**
   * Returns operations on heap {@code float[]} buffers in plain Java loops, float32: the
   * reference the native kernel is tested against. Each buffer belongs to its caller, who must
   * close it (the garbage collector would free it too).
   */
  @Override
  public TensorOps ops() {
    return template -> new JavaBuffer(Layout.of(template));
  }

  @Override
  public String toString() {
    return "java";
  }

  private static final class Sum implements WeightedSum {
    private final Parameters template;
    private final List<float[]> sums = new ArrayList<>();
    private final float[] block = new float[BLOCK];
    private int count;
    private double totalWeight;
    private boolean ended;

    Sum(Parameters template) {
      this.template = template;
      for (Tensor tensor : template) {
        sums.add(new float[Math.toIntExact(tensor.elementCount())]);
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
      Sums.checkOpen(ended);
      Sums.checkAdd(template, parameters, weight);
      float w = (float) weight;
      for (int t = 0; t < sums.size(); t++) {
        float[] sum = sums.get(t);
        FloatBuffer values = parameters.tensors().get(t).data().asFloatBuffer();
        for (int i = 0; i < sum.length; i++) {
          sum[i] += w * values.get(i);
        }
      }
      count++;
      totalWeight += weight;
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
      List<Tensor> tensors = new ArrayList<>(sums.size());
      float scale = (float) (1.0 / totalWeight);
      for (int t = 0; t < sums.size(); t++) {
        float[] sum = sums.get(t);
        ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(sum.length, Float.BYTES))
            .order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer floats = out.asFloatBuffer();
        for (int start = 0; start < sum.length; start += BLOCK) {
          int len = Math.min(BLOCK, sum.length - start);
          for (int i = 0; i < len; i++) {
            block[i] = sum[start + i] * scale;
          }
          floats.put(start, block, 0, len);
        }
        Tensor spec = template.tensors().get(t);
        tensors.add(new Tensor(spec.name(), spec.dtype(), spec.shape(), out));
      }
      return new Parameters(tensors);
    }

    @Override
    public void close() {
      ended = true;
      sums.clear();
    }
  }
}
