package dev.flops.aggregator.kernel;

import dev.flops.dl4j.Nd4jBuffers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.blas.Level1;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@link Nd4jAveraging}'s buffer: one float32 ND4J vector per tensor in ND4J's own off-heap
 * memory, updated in place by BLAS level 1 ({@code saxpy}, {@code sscal}) and ND4J's native
 * element-wise ops; no value passes through a Java array.
 *
 * <p>An operand in a direct buffer (as the aggregator decodes uploads, and as snapshots are) is
 * read where it lies; one on the heap is first copied into a staging vector of this buffer,
 * allocated on first need. {@link #free()} releases every vector at once rather than when the
 * garbage collector gets to it: off-heap memory is invisible to the collector's heuristics.
 */
final class Nd4jBuffer extends KernelBuffer {
  private final INDArray[] arrays;
  private final INDArray[] staging;

  Nd4jBuffer(Layout layout) {
    super(layout);
    arrays = new INDArray[layout.tensors()];
    staging = new INDArray[layout.tensors()];
    try {
      for (int t = 0; t < arrays.length; t++) {
        if (layout.size(t) > 0) {
          arrays[t] = Nd4j.create(DataType.FLOAT, new long[] {layout.size(t)}, 'c'); // zeros
        }
      }
    } catch (RuntimeException | Error e) {
      free();
      throw e;
    }
  }

  /** Tensor {@code t}'s vector, or its staging vector; for tests. */
  INDArray vector(int t, boolean stage) {
    return stage ? staging[t] : arrays[t];
  }

  private static INDArray of(KernelBuffer x, int t) {
    return ((Nd4jBuffer) x).arrays[t];
  }

  private static Level1 blas() {
    return Nd4j.getBlasWrapper().level1();
  }

  /** The operand as a vector: a view of a direct buffer, or a copy of a heap one in staging. */
  private INDArray operand(int t, ByteBuffer x) {
    if (x.isDirect()) {
      return Nd4jBuffers.floats(x, layout.size(t));
    }
    if (staging[t] == null) {
      staging[t] = Nd4j.create(DataType.FLOAT, new long[] {layout.size(t)}, 'c');
    }
    copyInto(staging[t], x);
    return staging[t];
  }

  /** One copy of heap bytes into an array's off-heap memory. */
  private static void copyInto(INDArray target, ByteBuffer heap) {
    target.data().asNio().order(ByteOrder.LITTLE_ENDIAN).put(heap.duplicate());
  }

  @Override
  void load(int t, ByteBuffer x) {
    if (x.isDirect()) {
      arrays[t].assign(Nd4jBuffers.floats(x, layout.size(t)));
    } else {
      copyInto(arrays[t], x);
    }
  }

  @Override
  void assign(int t, KernelBuffer x) {
    arrays[t].assign(of(x, t));
  }

  @Override
  void axpy(int t, float a, ByteBuffer x) {
    blas().axpy(layout.size(t), a, operand(t, x), arrays[t]);
  }

  @Override
  void axpy(int t, float a, KernelBuffer x) {
    blas().axpy(layout.size(t), a, of(x, t), arrays[t]);
  }

  @Override
  void scale(int t, float a) {
    blas().scal(layout.size(t), a, arrays[t]);
  }

  @Override
  void multiply(int t, KernelBuffer x) {
    arrays[t].muli(of(x, t));
  }

  @Override
  void square(int t) {
    arrays[t].muli(arrays[t]);
  }

  @Override
  void sqrt(int t) {
    Transforms.sqrt(arrays[t], false);
  }

  @Override
  void divideBySqrtPlus(int t, KernelBuffer v, float tau) {
    INDArray denominator = Transforms.sqrt(of(v, t), true);
    try {
      arrays[t].divi(denominator.addi(tau));
    } finally {
      denominator.close();
    }
  }

  @Override
  void sign(int t) {
    Transforms.sign(arrays[t], false);
  }

  @Override
  ByteBuffer read(int t) {
    return Nd4jBuffers.toDirectFloats(arrays[t]);
  }

  @Override
  KernelBuffer newBuffer() {
    return new Nd4jBuffer(layout);
  }

  @Override
  void free() {
    for (int t = 0; t < arrays.length; t++) {
      close(arrays[t]);
      close(staging[t]);
      arrays[t] = null;
      staging[t] = null;
    }
  }

  private static void close(INDArray array) {
    if (array != null && array.closeable()) {
      array.close();
    }
  }
}
