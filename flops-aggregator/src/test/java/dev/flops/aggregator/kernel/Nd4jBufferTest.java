package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The native buffer's memory lives outside the heap, where the collector does not see its size:
 * close() must give it back at once. Checked on ND4J's own arrays (whose {@code close()} frees
 * their native memory), since the process's resident size moves with the collector too.
 */
class Nd4jBufferTest {

  @Test
  void close_releasesEveryNativeVector_includingStaging() {
    Parameters template = Parameters.of(
        Tensor.ofFloats("w", new long[] {1000, 100}, new float[100_000]),
        Tensor.ofFloats("b", 1f, 2f));
    Nd4jBuffer buffer = (Nd4jBuffer) new Nd4jAveraging().ops().zeros(template);
    buffer.axpy(1, template); // heap operands go through a staging vector
    List<INDArray> vectors = List.of(buffer.vector(0, false), buffer.vector(1, false),
        buffer.vector(0, true), buffer.vector(1, true));
    for (INDArray vector : vectors) {
      assertTrue(vector.closeable(), "ND4J can free " + vector.shapeInfoToString());
      assertFalse(vector.wasClosed());
    }

    buffer.close();

    for (INDArray vector : vectors) {
      assertTrue(vector.wasClosed(), "freed at close(): " + vector.shapeInfoToString());
    }
  }
}
