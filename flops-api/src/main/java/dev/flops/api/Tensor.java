package dev.flops.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor of model parameters: a name, an element type, a shape and the raw little-endian
 * data in row-major (C) order.
 *
 * <p>Instances are immutable. The factories that take a Java array ({@link #ofFloats}) copy it; the
 * canonical constructor takes a {@link ByteBuffer} without copying its bytes (a model of several
 * gigabytes should not be copied needlessly), so the caller must not change that buffer afterwards.
 * One tensor holds at most {@link Integer#MAX_VALUE} bytes; larger models are split over several
 * tensors, as every framework's parameter table already does.
 *
 * @param name the parameter's name, unique within its {@link Parameters}; not blank
 * @param dtype the element type
 * @param shape the dimensions, each at least 0; an empty shape is a scalar
 * @param data the elements, little-endian, exactly {@code elementCount(shape) * dtype.byteSize()}
 *     bytes from its position to its limit
 */
public record Tensor(String name, DType dtype, long[] shape, ByteBuffer data) {

  /**
   * Validates and takes a read-only view of the data.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the name is blank, a dimension is negative or the data size
   *     does not match the shape and type
   */
  public Tensor {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(data, "data");
    if (name.isBlank()) {
      throw new IllegalArgumentException("tensor name must not be blank");
    }
    shape = shape.clone();
    long expectedBytes;
    try {
      expectedBytes = Math.multiplyExact(elementCount(name, shape), (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(String.format(
          "tensor '%s' with shape %s is too large to address", name, Arrays.toString(shape)), e);
    }
    if (data.remaining() != expectedBytes) {
      throw new IllegalArgumentException(String.format(
          "tensor '%s' with shape %s and dtype %s needs %d bytes of data but got %d",
          name, Arrays.toString(shape), dtype, expectedBytes, data.remaining()));
    }
    data = data.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Creates a float32 tensor from a copy of the given values.
   *
   * @param name the parameter name
   * @param shape the dimensions; their product must equal {@code values.length}
   * @param values the elements in row-major order; copied
   * @return the new tensor
   * @throws IllegalArgumentException if the shape does not match the number of values
   */
  public static Tensor ofFloats(String name, long[] shape, float[] values) {
    Objects.requireNonNull(values, "values");
    ByteBuffer buffer = ByteBuffer.allocate(Math.multiplyExact(values.length, 4))
        .order(ByteOrder.LITTLE_ENDIAN);
    buffer.asFloatBuffer().put(values);
    return new Tensor(name, DType.FLOAT32, shape, buffer);
  }

  /**
   * Creates a float32 vector (shape {@code [values.length]}) from a copy of the given values.
   *
   * @param name the parameter name
   * @param values the elements; copied
   * @return the new tensor
   */
  public static Tensor ofFloats(String name, float... values) {
    return ofFloats(name, new long[] {values.length}, values);
  }

  /**
   * Returns the dimensions.
   *
   * @return a copy of the shape
   */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Returns the data as a read-only little-endian buffer positioned at its first byte. Each call
   * returns an independent view, so callers may move its position freely.
   *
   * @return a read-only view of the data
   */
  @Override
  public ByteBuffer data() {
    return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Returns the number of elements, the product of the shape's dimensions.
   *
   * @return the element count
   */
  public long elementCount() {
    return elementCount(name, shape);
  }

  /**
   * Returns the size of the data.
   *
   * @return the number of data bytes
   */
  public long byteSize() {
    return data.remaining();
  }

  /**
   * Copies a float32 tensor's elements into a new array.
   *
   * @return the elements in row-major order
   * @throws IllegalStateException if the tensor is not {@link DType#FLOAT32}
   */
  public float[] toFloatArray() {
    if (dtype != DType.FLOAT32) {
      throw new IllegalStateException(
          "tensor '" + name + "' is " + dtype + ", not FLOAT32; read its data() instead");
    }
    float[] values = new float[Math.toIntExact(elementCount())];
    data().asFloatBuffer().get(values);
    return values;
  }

  /**
   * Tells whether another tensor has the same name, dtype and shape (the data may differ).
   *
   * @param other the tensor to compare with
   * @return true if both describe the same slot of a model
   */
  public boolean sameSpec(Tensor other) {
    return name.equals(other.name) && dtype == other.dtype && Arrays.equals(shape, other.shape);
  }

  /**
   * Describes the name, type and shape, e.g. {@code 0_W FLOAT32[784, 200]}.
   *
   * @return the specification as text
   */
  public String spec() {
    return name + " " + dtype + Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && sameSpec(t) && data.equals(t.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), data);
  }

  @Override
  public String toString() {
    return "Tensor[" + spec() + "]";
  }

  private static long elementCount(String name, long[] shape) {
    long count = 1;
    for (long dim : shape) {
      if (dim < 0) {
        throw new IllegalArgumentException(
            "tensor '" + name + "' has a negative dimension in shape " + Arrays.toString(shape));
      }
      count = Math.multiplyExact(count, dim);
    }
    return count;
  }
}
