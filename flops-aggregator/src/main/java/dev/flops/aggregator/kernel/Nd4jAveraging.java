package dev.flops.aggregator.kernel;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.TensorOps;
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
 * direct buffers) is folded in place with one {@code saxpy}, without any copy. An update on the
 * Java heap is first copied into a staging buffer, allocated on first need. The accumulators are
 * direct buffers that ND4J works on in place; {@link WeightedSum#mean()} scales them in place and
 * returns them as the mean, so a round costs one model of memory for the sum and the new global
 * model together, whatever the number of updates.
 */
public final class Nd4jAveraging implements AveragingKernel, ResultOwner {
  private final ResultMemory results = new ResultMemory();

  @Override
  public WeightedSum begin(Parameters template) {
    Sums.checkTemplate(template);
    return new Sum(template, results);
  }

  /** Records each mean's buffers: the sum's, which the mean takes over. */
  @Override
  public ResultMemory results() {
    return results;
  }

  /**
   * Returns operations on ND4J vectors in off-heap memory (BLAS level 1 and ND4J's native
   * element-wise ops). Each buffer belongs to its caller, who must close it: that frees its
   * memory at once.
   */
  @Override
  public TensorOps ops() {
    return template -> new Nd4jBuffer(Layout.of(template));
  }

  @Override
  public String toString() {
    return "nd4j";
  }

  /** A direct buffer as a vector sharing its memory. */
  private static INDArray wrap(ByteBuffer direct) {
    return Nd4jBuffers.floats(direct, direct.remaining() / Float.BYTES);
  }

  private static final class Sum implements WeightedSum {
    private final Parameters template;
    private final ResultMemory results;
    /** Java owns the memory (freed when unreachable); the arrays are ND4J views of it. */
    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final List<INDArray> sums = new ArrayList<>();
    private final List<ByteBuffer> staging = new ArrayList<>();
    private int count;
    private double totalWeight;
    private boolean ended;

    Sum(Parameters template, ResultMemory results) {
      this.template = template;
      this.results = results;
      for (Tensor tensor : template) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.toIntExact(tensor.byteSize()))
            .order(ByteOrder.LITTLE_ENDIAN); // zeroed by the JVM
        buffers.add(buffer);
        sums.add(tensor.byteSize() == 0 ? null : wrap(buffer));
        staging.add(null);
      }
    }

    @Override
    public void add(Parameters parameters, double weight) {
      Sums.checkOpen(ended);
      Sums.checkAdd(template, parameters, weight);
      for (int t = 0; t < sums.size(); t++) {
        INDArray sum = sums.get(t);
        if (sum == null) {
          continue;
        }
        ByteBuffer data = parameters.tensors().get(t).data();
        INDArray x = wrap(data.isDirect() ? data : staged(t, data));
        Nd4j.getBlasWrapper().level1().axpy(x.length(), weight, x, sum);
      }
      count++;
      totalWeight += weight;
    }

    private ByteBuffer staged(int t, ByteBuffer heap) {
      ByteBuffer x = staging.get(t);
      if (x == null) {
        x = ByteBuffer.allocateDirect(heap.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        staging.set(t, x);
      }
      return x.clear().put(heap).flip();
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
      for (int t = 0; t < sums.size(); t++) {
        INDArray sum = sums.get(t);
        if (sum != null) {
          Nd4j.getBlasWrapper().level1().scal(sum.length(), 1.0 / totalWeight, sum);
        }
        Tensor spec = template.tensors().get(t);
        tensors.add(new Tensor(spec.name(), spec.dtype(), spec.shape(), buffers.get(t)));
      }
      Parameters mean = new Parameters(tensors);
      results.track(mean, buffers);
      return mean;
    }

    @Override
    public void close() {
      // The buffers may now back the mean: only drop this sum's references to them. The
      // staging buffers never left this sum: free them now, not at an old-generation collection.
      ended = true;
      sums.clear();
      buffers.clear();
      for (ByteBuffer x : staging) {
        if (x != null) {
          ResultMemory.freeNow(x);
        }
      }
      staging.clear();
    }
  }
}
