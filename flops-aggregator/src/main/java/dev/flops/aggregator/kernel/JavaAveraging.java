package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Weighted averaging in plain Java over heap {@code float[]} sums: a scalar loop the JIT
 * vectorises. The reference the native kernel is measured against.
 */
public final class JavaAveraging implements AveragingKernel {

  @Override
  public WeightedSum begin(Parameters template) {
    Sums.checkTemplate(template);
    return new Sum(template);
  }

  @Override
  public String toString() {
    return "java";
  }

  private static final class Sum implements WeightedSum {
    private final Parameters template;
    private final List<float[]> sums = new ArrayList<>();
    private int count;
    private double totalWeight;

    Sum(Parameters template) {
      this.template = template;
      for (Tensor tensor : template) {
        sums.add(new float[Math.toIntExact(tensor.elementCount())]);
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
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
      Sums.checkNotEmpty(count);
      List<Tensor> tensors = new ArrayList<>(sums.size());
      float scale = (float) (1.0 / totalWeight);
      for (int t = 0; t < sums.size(); t++) {
        float[] sum = sums.get(t);
        float[] mean = new float[sum.length];
        for (int i = 0; i < sum.length; i++) {
          mean[i] = sum[i] * scale;
        }
        Tensor spec = template.tensors().get(t);
        tensors.add(Tensor.ofFloats(spec.name(), spec.shape(), mean));
      }
      return new Parameters(tensors);
    }

    @Override
    public void close() {
      sums.clear();
    }
  }
}
