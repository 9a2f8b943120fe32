package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Weighted averaging on ND4J's native backend (nd4j-native, OpenBLAS {@code saxpy}) over off-heap
 * buffers. Each sum holds one off-heap accumulator per tensor plus one reusable staging buffer the
 * update is copied into, so its memory is twice the model whatever the number of updates.
 */
public final class Nd4jAveraging implements AveragingKernel {

  @Override
  public WeightedSum begin(Parameters template) {
    Sums.checkTemplate(template);
    return new Sum(template);
  }

  @Override
  public String toString() {
    return "nd4j";
  }

  private static final class Sum implements WeightedSum {
    private final Parameters template;
    private final List<INDArray> sums = new ArrayList<>();
    private final List<INDArray> staging = new ArrayList<>();
    private int count;
    private double totalWeight;

    Sum(Parameters template) {
      this.template = template;
      for (Tensor tensor : template) {
        sums.add(Nd4j.zeros(DataType.FLOAT, tensor.elementCount()));
        staging.add(Nd4j.create(DataType.FLOAT, tensor.elementCount()));
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
      Sums.checkAdd(template, parameters, weight);
      for (int t = 0; t < sums.size(); t++) {
        INDArray x = staging.get(t);
        x.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer()
            .put(parameters.tensors().get(t).data().asFloatBuffer());
        Nd4j.getBlasWrapper().level1().axpy(x.length(), weight, x, sums.get(t));
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
      for (int t = 0; t < sums.size(); t++) {
        INDArray mean = sums.get(t).div(totalWeight);
        Tensor spec = template.tensors().get(t);
        tensors.add(Tensor.ofFloats(spec.name(), spec.shape(), mean.toFloatVector()));
        mean.close();
      }
      return new Parameters(tensors);
    }

    @Override
    public void close() {
      sums.forEach(INDArray::close);
      staging.forEach(INDArray::close);
      sums.clear();
      staging.clear();
    }
  }
}
