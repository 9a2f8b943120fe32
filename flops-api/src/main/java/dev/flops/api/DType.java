package dev.flops.api;

/**
 * The element type of a {@link Tensor}. Every tensor's data is stored little-endian.
 *
 * <p>flops aggregates {@link #FLOAT32} today; the other types are carried on the wire so that later
 * strategies and models can use them without a protocol change.
 */
public enum DType {
  /** IEEE 754 single precision, 4 bytes. */
  FLOAT32(4),
  /** IEEE 754 double precision, 8 bytes. */
  FLOAT64(8),
  /** Two's complement 32-bit integer, 4 bytes. */
  INT32(4),
  /** Two's complement 64-bit integer, 8 bytes. */
  INT64(8);

  private final int byteSize;

  DType(int byteSize) {
    this.byteSize = byteSize;
  }

  /**
   * Returns the size of one element.
   *
   * @return the number of bytes one element of this type occupies
   */
  public int byteSize() {
    return byteSize;
  }
}
