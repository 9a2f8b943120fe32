package dev.flops.examples.fashion;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads unsigned-byte IDX files, the format of MNIST and Fashion-MNIST: a big-endian magic number
 * {@code 0x0000 08 nn} (dtype 0x08 = unsigned byte, nn = number of dimensions), one big-endian
 * int32 per dimension, then the data in row-major order.
 *
 * <p>Gzip-compressed files are recognised by their magic bytes {@code 0x1f 0x8b}, whatever their
 * name, so plain and {@code .gz} files both work. Every {@link IOException} names the file and what
 * is wrong with it.
 */
public final class IdxReader {

  private static final int UNSIGNED_BYTE = 0x08;
  private static final int GZIP_MAGIC = 0x1f8b;

  private IdxReader() {}

  /**
   * Images read from a three-dimensional IDX file.
   *
   * <p>The record takes ownership of {@code pixels} without copying it (a full training set is
   * 47 MB): callers must not modify the array afterwards.
   *
   * @param count number of images read
   * @param rows rows per image
   * @param cols columns per image
   * @param pixels {@code count * rows * cols} unsigned bytes, image after image, row-major
   */
  public record IdxImages(int count, int rows, int cols, byte[] pixels) {

    /**
     * Validates the dimensions against the pixel array.
     *
     * @throws IllegalArgumentException if a dimension is negative or {@code pixels} has the wrong
     *     length
     */
    public IdxImages {
      if (count < 0 || rows < 0 || cols < 0) {
        throw new IllegalArgumentException(
            String.format("dimensions must be >= 0, got %d x %d x %d", count, rows, cols));
      }
      if (pixels == null || pixels.length != (long) count * rows * cols) {
        throw new IllegalArgumentException(
            String.format(
                "%d images of %dx%d need %d pixels, got %s",
                count,
                rows,
                cols,
                (long) count * rows * cols,
                pixels == null ? "null" : pixels.length));
      }
    }

    /**
     * Returns the number of pixels in one image.
     *
     * @return {@code rows * cols}
     */
    public int pixelsPerImage() {
      return rows * cols;
    }

    /**
     * Returns one pixel as an int in [0, 255].
     *
     * @param image image index in [0, count)
     * @param row row in [0, rows)
     * @param col column in [0, cols)
     * @return the pixel value
     */
    public int pixel(int image, int row, int col) {
      return pixels[(image * rows + row) * cols + col] & 0xFF;
    }
  }

  /**
   * Reads all images of an IDX image file.
   *
   * @param file a plain or gzip'd IDX file with 3 dimensions
   * @return the images
   * @throws IOException if the file cannot be read, has a bad magic number, or is truncated
   */
  public static IdxImages readImages(Path file) throws IOException {
    return readImages(file, Integer.MAX_VALUE);
  }

  /**
   * Reads the first {@code limit} images of an IDX image file (all of them if it holds fewer).
   *
   * @param file a plain or gzip'd IDX file with 3 dimensions
   * @param limit maximum number of images to read, at least 0
   * @return the images
   * @throws IOException if the file cannot be read, has a bad magic number, or is truncated
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  public static IdxImages readImages(Path file, int limit) throws IOException {
    checkLimit(limit);
    try (InputStream in = Files.newInputStream(file)) {
      return readImages(in, file.toString(), limit);
    }
  }

  /**
   * Reads the first {@code limit} images from a stream holding an IDX image file. The stream is
   * not closed.
   *
   * @param in the file's bytes, plain or gzip'd
   * @param name the file's name for error messages
   * @param limit maximum number of images to read, at least 0
   * @return the images
   * @throws IOException if the stream fails, has a bad magic number, or is truncated
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  public static IdxImages readImages(InputStream in, String name, int limit) throws IOException {
    checkLimit(limit);
    try {
      DataInputStream data = open(in);
      int[] dims = readHeader(data, name, 3);
      int count = Math.min(dims[0], limit);
      long size = (long) count * dims[1] * dims[2];
      if (size > Integer.MAX_VALUE - 8) {
        throw new IdxFormatException(
            String.format(
                "%s: %d images of %dx%d do not fit in one array; pass a smaller limit",
                name, count, dims[1], dims[2]));
      }
      String what = count + " images of " + dims[1] + "x" + dims[2];
      byte[] pixels = readBody(data, name, (int) size, what);
      if (count == dims[0]) {
        checkNoTrailingBytes(data, name, dims[0] + " images");
      }
      return new IdxImages(count, dims[1], dims[2], pixels);
    } catch (IdxFormatException e) {
      throw e;
    } catch (IOException e) {
      throw corrupt(name, e);
    }
  }

  /**
   * Reads all labels of an IDX label file.
   *
   * @param file a plain or gzip'd IDX file with 1 dimension
   * @return the labels as ints in [0, 255]
   * @throws IOException if the file cannot be read, has a bad magic number, or is truncated
   */
  public static int[] readLabels(Path file) throws IOException {
    return readLabels(file, Integer.MAX_VALUE);
  }

  /**
   * Reads the first {@code limit} labels of an IDX label file (all of them if it holds fewer).
   *
   * @param file a plain or gzip'd IDX file with 1 dimension
   * @param limit maximum number of labels to read, at least 0
   * @return the labels as ints in [0, 255]
   * @throws IOException if the file cannot be read, has a bad magic number, or is truncated
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  public static int[] readLabels(Path file, int limit) throws IOException {
    checkLimit(limit);
    try (InputStream in = Files.newInputStream(file)) {
      return readLabels(in, file.toString(), limit);
    }
  }

  /**
   * Reads the first {@code limit} labels from a stream holding an IDX label file. The stream is
   * not closed.
   *
   * @param in the file's bytes, plain or gzip'd
   * @param name the file's name for error messages
   * @param limit maximum number of labels to read, at least 0
   * @return the labels as ints in [0, 255]
   * @throws IOException if the stream fails, has a bad magic number, or is truncated
   * @throws IllegalArgumentException if {@code limit} is negative
   */
  public static int[] readLabels(InputStream in, String name, int limit) throws IOException {
    checkLimit(limit);
    try {
      DataInputStream data = open(in);
      int[] dims = readHeader(data, name, 1);
      int count = Math.min(dims[0], limit);
      byte[] bytes = readBody(data, name, count, count + " labels");
      if (count == dims[0]) {
        checkNoTrailingBytes(data, name, dims[0] + " labels");
      }
      int[] labels = new int[count];
      for (int i = 0; i < count; i++) {
        labels[i] = bytes[i] & 0xFF;
      }
      return labels;
    } catch (IdxFormatException e) {
      throw e;
    } catch (IOException e) {
      throw corrupt(name, e);
    }
  }

  /** An IDX format error whose message already names the file. */
  private static final class IdxFormatException extends IOException {
    IdxFormatException(String message) {
      super(message);
    }

    IdxFormatException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Names the file in an I/O error from the stream itself, typically a damaged gzip. */
  private static IOException corrupt(String name, IOException cause) {
    return new IOException(
        String.format("%s: truncated or corrupt data (%s)", name, cause.getMessage()), cause);
  }

  private static void checkLimit(int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, got " + limit);
    }
  }

  /** Wraps {@code in}, inserting a gzip decoder if the stream starts with the gzip magic. */
  private static DataInputStream open(InputStream in) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(in, 1 << 16);
    buffered.mark(2);
    int first = buffered.read();
    int second = buffered.read();
    buffered.reset();
    boolean gzip = ((first << 8) | second) == GZIP_MAGIC;
    if (!gzip) {
      return new DataInputStream(buffered);
    }
    return new DataInputStream(new BufferedInputStream(new GZIPInputStream(buffered, 1 << 16)));
  }

  private static int[] readHeader(DataInputStream in, String name, int expectedDims)
      throws IOException {
    int magic;
    try {
      magic = in.readInt();
    } catch (EOFException e) {
      throw new IdxFormatException(
          name + ": truncated, the file ends before its 4-byte magic number", e);
    }
    int expected = (UNSIGNED_BYTE << 8) | expectedDims;
    if (magic != expected) {
      throw new IdxFormatException(
          String.format(
              "%s: bad magic number 0x%08x, expected 0x%08x (IDX, unsigned bytes, %d dimension%s)",
              name, magic, expected, expectedDims, expectedDims == 1 ? "" : "s"));
    }
    int[] dims = new int[expectedDims];
    for (int i = 0; i < expectedDims; i++) {
      try {
        dims[i] = in.readInt();
      } catch (EOFException e) {
        throw new IdxFormatException(
            String.format(
                "%s: truncated, the header ends after %d of its %d dimension sizes",
                name, i, expectedDims),
            e);
      }
      if (dims[i] < 0) {
        throw new IdxFormatException(
            String.format("%s: dimension %d has a negative size %d", name, i, dims[i]));
      }
    }
    return dims;
  }

  private static byte[] readBody(DataInputStream in, String name, int size, String what)
      throws IOException {
    byte[] body = new byte[size];
    int read = in.readNBytes(body, 0, size);
    if (read < size) {
      throw new IdxFormatException(
          String.format(
              "%s: truncated, %s need %d data bytes but the file has only %d",
              name, what, size, read));
    }
    return body;
  }

  private static void checkNoTrailingBytes(DataInputStream in, String name, String declared)
      throws IOException {
    if (in.read() >= 0) {
      throw new IdxFormatException(
          String.format(
              "%s: count mismatch, the header declares %s but more data follows them",
              name, declared));
    }
  }
}
