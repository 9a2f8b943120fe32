package dev.flops.proto.codec;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.util.Optional;

/**
 * Finds NaN and infinity among floating-point tensor values: in an update while it is decoded
 * ({@link ParameterDecoder}), and in an aggregate before it becomes the global model (where
 * finite updates weighted by large example counts can still overflow float32).
 */
public final class FiniteScan {
  /** Values scanned per block for non-finite floats: small enough to stay in L1. */
  static final int SCAN_BLOCK = 2048;

  private FiniteScan() {}

  /**
   * Describes the first non-finite value of the parameters' FLOAT32 and FLOAT64 tensors.
   *
   * @param parameters the parameters; their buffers are read, not moved
   * @return e.g. "tensor 'w' holds a non-finite value (Infinity) at element 7", or empty if every
   *     value is finite
   */
  public static Optional<String> describeNonFinite(Parameters parameters) {
    for (Tensor tensor : parameters) {
      ByteBuffer data = tensor.data().order(ByteOrder.LITTLE_ENDIAN);
      Optional<String> found = describeNonFinite(tensor.name(), tensor.dtype(), data, 0);
      if (found.isPresent()) {
        return found;
      }
    }
    return Optional.empty();
  }

  /**
   * Describes the first non-finite value of a little-endian range of one tensor's values.
   *
   * @param name the tensor's name, for the description
   * @param dtype its dtype; other dtypes than FLOAT32 and FLOAT64 are never non-finite
   * @param range the little-endian values, from its position to its limit
   * @param firstElement the index in the tensor of the range's first value
   * @return the description, or empty if every value is finite
   */
  static Optional<String> describeNonFinite(String name, DType dtype, ByteBuffer range,
      long firstElement) {
    return describeNonFinite(name, dtype, range, firstElement, new int[SCAN_BLOCK]);
  }

  /**
   * As {@link #describeNonFinite(String, DType, ByteBuffer, long)}, with the caller's scratch
   * block, so that a decoder scanning a model in small blocks allocates nothing per block.
   *
   * @param scratch at least one element; its contents are overwritten
   */
  static Optional<String> describeNonFinite(String name, DType dtype, ByteBuffer range,
      long firstElement, int[] scratch) {
    if (dtype != DType.FLOAT32 && dtype != DType.FLOAT64) {
      return Optional.empty();
    }
    ByteBuffer values = range.slice().order(ByteOrder.LITTLE_ENDIAN);
    int at = dtype == DType.FLOAT32 ? firstNonFiniteFloat(values, scratch)
        : firstNonFinite(values.asDoubleBuffer());
    if (at < 0) {
      return Optional.empty();
    }
    Object value = dtype == DType.FLOAT32 ? (Object) values.asFloatBuffer().get(at)
        : (Object) values.asDoubleBuffer().get(at);
    return Optional.of(String.format("tensor '%s' holds a non-finite value (%s) at element %d",
        name, value, firstElement + at));
  }

  /**
   * Finds the first NaN or infinity among float32 values. A float is non-finite exactly when its
   * exponent bits are all ones; adding one to that exponent field then carries into the sign bit,
   * so OR-ing {@code (bits & EXPONENT) + ONE} over a block is negative iff the block holds one.
   * That branch-free loop over an {@code int[]} block is vectorised by the JIT, which keeps the
   * check far below the cost of receiving the bytes.
   */
  private static int firstNonFiniteFloat(ByteBuffer littleEndian, int[] block) {
    IntBuffer bits = littleEndian.asIntBuffer();
    for (int start = 0; start < bits.limit(); start += block.length) {
      int len = Math.min(block.length, bits.limit() - start);
      bits.get(start, block, 0, len);
      int acc = 0;
      for (int i = 0; i < len; i++) {
        acc |= (block[i] & 0x7f80_0000) + 0x0080_0000;
      }
      if (acc < 0) {
        for (int i = 0; i < len; i++) {
          if (!Float.isFinite(Float.intBitsToFloat(block[i]))) {
            return start + i;
          }
        }
      }
    }
    return -1;
  }

  private static int firstNonFinite(DoubleBuffer doubles) {
    for (int i = 0; i < doubles.limit(); i++) {
      if (!Double.isFinite(doubles.get(i))) {
        return i;
      }
    }
    return -1;
  }
}
