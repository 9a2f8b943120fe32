package dev.flops.examples.fashion;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small unsigned-byte IDX files for tests. */
final class IdxFiles {

  private IdxFiles() {}

  /** An IDX file's bytes: magic 0x000008nn, the dims, then {@code data}. */
  static byte[] idx(int[] dims, byte[] data) {
    ByteBuffer buffer = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
    buffer.putInt(0x0800 | dims.length);
    for (int dim : dims) {
      buffer.putInt(dim);
    }
    buffer.put(data);
    return buffer.array();
  }

  static byte[] gzip(byte[] plain) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(plain);
    }
    return out.toByteArray();
  }

  /** Images whose pixel values are {@code (image * 7 + position) mod 256}. */
  static byte[] imagePixels(int count, int rows, int cols) {
    byte[] pixels = new byte[count * rows * cols];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) ((i / (rows * cols)) * 7 + i % (rows * cols));
    }
    return pixels;
  }

  /** Writes {@code count} 28x28 images and labels {@code i % 10} as gzip'd IDX files in dir. */
  static void writeSplit(Path dir, String imagesName, String labelsName, int images, int labels)
      throws IOException {
    byte[] pixels = imagePixels(images, 28, 28);
    Files.write(dir.resolve(imagesName), gzip(idx(new int[] {images, 28, 28}, pixels)));
    byte[] labelBytes = new byte[labels];
    for (int i = 0; i < labels; i++) {
      labelBytes[i] = (byte) (i % 10);
    }
    Files.write(dir.resolve(labelsName), gzip(idx(new int[] {labels}, labelBytes)));
  }
}
