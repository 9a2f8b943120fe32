package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxReaderTest {

  @TempDir Path dir;

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void imagesRoundTrip(boolean gzip) throws IOException {
    byte[] pixels = IdxFiles.imagePixels(3, 4, 5);
    pixels[7] = (byte) 255;
    Path file = write("images", gzip, IdxFiles.idx(new int[] {3, 4, 5}, pixels));

    IdxReader.IdxImages images = IdxReader.readImages(file);

    assertEquals(3, images.count());
    assertEquals(4, images.rows());
    assertEquals(5, images.cols());
    assertArrayEquals(pixels, images.pixels());
    assertEquals(255, images.pixel(0, 1, 2), "pixels are unsigned");
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void labelsRoundTripAsUnsignedInts(boolean gzip) throws IOException {
    byte[] labels = {0, 9, 3, (byte) 200};
    Path file = write("labels", gzip, IdxFiles.idx(new int[] {4}, labels));

    assertArrayEquals(new int[] {0, 9, 3, 200}, IdxReader.readLabels(file));
  }

  @Test
  void limitReadsOnlyTheFirstItems() throws IOException {
    byte[] pixels = IdxFiles.imagePixels(10, 2, 2);
    Path images = write("images", true, IdxFiles.idx(new int[] {10, 2, 2}, pixels));
    Path labels = write("labels", true, IdxFiles.idx(new int[] {3}, new byte[] {5, 6, 7}));

    IdxReader.IdxImages firstFour = IdxReader.readImages(images, 4);

    assertEquals(4, firstFour.count());
    assertArrayEquals(Arrays.copyOf(pixels, 16), firstFour.pixels());
    assertArrayEquals(new int[] {5, 6}, IdxReader.readLabels(labels, 2));
    assertArrayEquals(new int[] {5, 6, 7}, IdxReader.readLabels(labels, 100), "limit above count");
  }

  @Test
  void badMagicNamesTheFileAndTheMagic() throws IOException {
    Path file = write("labels-as-images", false, IdxFiles.idx(new int[] {2}, new byte[] {1, 2}));

    IOException e = assertThrows(IOException.class, () -> IdxReader.readImages(file));

    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("bad magic number 0x00000801"), e.getMessage());
    assertTrue(e.getMessage().contains("expected 0x00000803"), e.getMessage());
  }

  @Test
  void nonByteDtypeIsABadMagic() throws IOException {
    byte[] floats = IdxFiles.idx(new int[] {1}, new byte[] {0, 0, 0, 0});
    floats[2] = 0x0D;
    Path file = write("floats", true, floats);

    IOException e = assertThrows(IOException.class, () -> IdxReader.readLabels(file));

    assertTrue(e.getMessage().contains("bad magic number 0x00000d01"), e.getMessage());
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void truncatedDataNamesTheFile(boolean gzip) throws IOException {
    byte[] whole = IdxFiles.idx(new int[] {3, 4, 5}, IdxFiles.imagePixels(3, 4, 5));
    byte[] content = gzip ? IdxFiles.gzip(whole) : whole;
    Path file = dir.resolve("cut");
    Files.write(file, Arrays.copyOf(content, content.length - 20));

    IOException e = assertThrows(IOException.class, () -> IdxReader.readImages(file));

    assertTrue(e.getMessage().startsWith(file + ": truncated"), e.getMessage());
  }

  @Test
  void truncatedHeaderNamesTheFile() throws IOException {
    byte[] header = IdxFiles.idx(new int[] {3, 4, 5}, new byte[0]);
    Path file = write("short", false, Arrays.copyOf(header, 10));

    IOException e = assertThrows(IOException.class, () -> IdxReader.readImages(file));

    assertTrue(
        e.getMessage().contains(file + ": truncated, the header ends after 1 of its 3"),
        e.getMessage());
  }

  @Test
  void emptyFileIsTruncated() throws IOException {
    Path file = write("empty", false, new byte[0]);

    IOException e = assertThrows(IOException.class, () -> IdxReader.readLabels(file));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void dataBeyondTheDeclaredCountIsACountMismatch() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {2}, new byte[] {1, 2, 3});
    Path file = write("labels", true, content);

    IOException e = assertThrows(IOException.class, () -> IdxReader.readLabels(file));

    assertTrue(e.getMessage().contains("count mismatch"), e.getMessage());
    assertTrue(e.getMessage().contains("declares 2 labels"), e.getMessage());
  }

  @Test
  void negativeLimitIsRejected() {
    Path file = dir.resolve("x");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> IdxReader.readLabels(file, -1));

    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }

  private Path write(String name, boolean gzip, byte[] content) throws IOException {
    Path file = dir.resolve(gzip ? name + ".gz" : name);
    Files.write(file, gzip ? IdxFiles.gzip(content) : content);
    return file;
  }
}
