package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.dl4j.Nd4jBuffers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Weighted averaging on ND4J's native backend (nd4j-native, OpenBLAS {@code saxpy}) over off-heap
 * buffers.
 *
 * <p>An update whose tensors are direct buffers (the aggregator decodes uploads straight into
 * direct buffers) is wrapped in place and folded with one {@code saxpy}, without any copy. An update
 * on the Java heap is first copied into a staging buffer, allocated on first need. The sum holds one
 * off-heap accumulator per tensor, so its memory is the model's size (twice with staging) whatever
 * the number of updates. The mean is written into new direct buffers.
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

  /** A direct buffer as a vector sharing its memory (a heap buffer is not passed here). */
  private static INDArray wrap(ByteBuffer direct) {
    return Nd4jBuffers.floats(direct, direct.remaining() / Float.BYTES);
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
        staging.add(null);
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
      Sums.checkAdd(template, parameters, weight);
      for (int t = 0; t < sums.size(); t++) {
        INDArray sum = sums.get(t);
        if (sum.length() == 0) {
          continue;
        }
        ByteBuffer data = parameters.tensors().get(t).data();
        INDArray x = data.isDirect() ? wrap(data) : staged(t, data);
        Nd4j.getBlasWrapper().level1().axpy(x.length(), weight, x, sum);
      }
      count++;
      totalWeight += weight;
    }

    private INDArray staged(int t, ByteBuffer heap) {
      INDArray x = staging.get(t);
      if (x == null) {
        x = Nd4j.create(DataType.FLOAT, sums.get(t).length());
        staging.set(t, x);
      }
      x.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer().put(heap.asFloatBuffer());
      return x;
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
        INDArray sum = sums.get(t);
        ByteBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(sum.length() * Float.BYTES))
            .order(ByteOrder.LITTLE_ENDIAN);
        if (sum.length() > 0) {
          INDArray mean = wrap(out);
          Nd4j.getBlasWrapper().level1().copy(sum, mean);
          Nd4j.getBlasWrapper().level1().scal(mean.length(), 1.0 / totalWeight, mean);
        }
        Tensor spec = template.tensors().get(t);
        tensors.add(new Tensor(spec.name(), spec.dtype(), spec.shape(), out));
      }
      return new Parameters(tensors);
    }

    @Override
    public void close() {
      sums.forEach(INDArray::close);
      staging.stream().filter(x -> x != null).forEach(INDArray::close);
      sums.clear();
      staging.clear();
    }
  }
}
