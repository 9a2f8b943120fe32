package dev.flops.dl4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves float32 tensor data between {@link java.nio.ByteBuffer}s and ND4J arrays with as few
 * copies as the layouts allow: a direct little-endian buffer is shared with ND4J, not copied. This
 * is what keeps a learner at three copies of the model (received, working, sending) and lets the
 * aggregator fold an update where it was decoded.
 */
public final class Nd4jBuffers {

  private Nd4jBuffers() {}

  /**
   * Returns a C-order float32 array over the buffer's bytes from its position to its limit. A
   * direct buffer is shared (writes through the array change the buffer, and the buffer must stay
   * reachable while the array is used); a heap buffer is copied once into a new array.
   *
   * @param littleEndianFloats float32 values, little-endian
   * @param shape the array's shape; its element count must match the buffer's floats
   * @return the array
   * @throws IllegalArgumentException if the shape does not match the buffer's size
   */
  public static INDArray floats(ByteBuffer littleEndianFloats, long... shape) {
    long length = littleEndianFloats.remaining() / Float.BYTES;
    long elements = 1;
    for (long dim : shape) {
      elements *= dim;
    }
    if (elements != length || littleEndianFloats.remaining() % Float.BYTES != 0) {
      throw new IllegalArgumentException(String.format("a buffer of %d bytes cannot hold shape "
          + "%s of float32", littleEndianFloats.remaining(), java.util.Arrays.toString(shape)));
    }
    if (length == 0) {
      return Nd4j.create(DataType.FLOAT, shape, 'c');
    }
    if (!littleEndianFloats.isDirect() || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      INDArray copy = Nd4j.create(DataType.FLOAT, shape, 'c');
      copy.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer()
          .put(littleEndianFloats.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
      return copy;
    }
    FloatPointer pointer = new FloatPointer(new Pointer(littleEndianFloats));
    pointer.capacity(length).limit(length);
    DataBuffer buffer =
        Nd4j.createBuffer(pointer, DataType.FLOAT, length, FloatIndexer.create(pointer));
    return Nd4j.create(buffer, shape, Nd4j.getStrides(shape, 'c'), 0, 'c', DataType.FLOAT);
  }

  /**
   * Copies an array, in C order and as float32, into a new direct little-endian buffer: one copy,
   * whatever the array's ordering, type or view offsets.
   *
   * @param values the array
   * @return a direct buffer positioned at 0 holding {@code values.length()} floats
   */
  public static ByteBuffer toDirectFloats(INDArray values) {
    ByteBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(values.length() * Float.BYTES))
        .order(ByteOrder.LITTLE_ENDIAN);
    if (values.length() > 0) {
      floats(out, values.shape()).assign(values);
    }
    return out;
  }
}
