package dev.flops.api.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NamedTensorFileTest {

  @TempDir
  Path dir;

  /** A file laid out by hand from the safetensors specification, independent of the writer. */
  private static byte[] handWritten(String header, byte[] data) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(json.length).put(json).put(data).array();
  }

  private static byte[] littleEndian(float... values) {
    ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      buffer.putFloat(v);
    }
    return buffer.array();
  }

  @Test
  void readsAFileWrittenFromTheSpecification() throws IOException {
    // Written out of data order, with unusual spacing and metadata, as another writer might.
    Path file = dir.resolve("model.safetensors");
    Files.write(file, handWritten("{ \"b\" : {\"dtype\":\"F32\",\"shape\":[2],"
        + "\"data_offsets\":[24,32]}, \"__metadata__\": {\"format\": \"pt\"},"
        + "\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]} }",
        littleEndian(1, 2, 3, 4, 5, 6, -1.5f, 0.25f)));

    Parameters read = NamedTensorFile.read(file);

    assertEquals(java.util.List.of("w", "b"), read.names(), "in data order");
    assertArrayEquals(new long[] {2, 3}, read.get("w").shape());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, read.get("w").toFloatArray());
    assertArrayEquals(new float[] {-1.5f, 0.25f}, read.get("b").toFloatArray());
    assertEquals(Map.of("format", "pt"), NamedTensorFile.readMetadata(file));
  }

  @Test
  void writeThenRead_everyTypeAndAScalar_roundTrip() throws IOException {
    ByteBuffer f64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(Math.PI)
        .putDouble(-0.0);
    ByteBuffer i32 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(7).putInt(-8)
        .putInt(Integer.MAX_VALUE);
    ByteBuffer i64 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MIN_VALUE);
    Parameters parameters = Parameters.of(
        Tensor.ofFloats("layer \"0\"/W", new long[] {1, 3}, new float[] {1, Float.NaN, 3}),
        new Tensor("f64", DType.FLOAT64, new long[] {2}, f64.flip()),
        new Tensor("i32", DType.INT32, new long[] {3}, i32.flip()),
        new Tensor("scalar", DType.INT64, new long[] {}, i64.flip()));
    Path file = dir.resolve("all.safetensors");

    NamedTensorFile.write(parameters, Map.of("producer", "flops test"), file);

    Parameters read = NamedTensorFile.read(file);
    assertEquals(parameters, read);
    assertEquals("flops test", NamedTensorFile.readMetadata(file).get("producer"));
    long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8)
        .order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, headerLength % 8, "header padded to 8 bytes");
  }

  @Test
  void invalidFiles_failWithTheFileAndWhatIsWrong() throws IOException {
    Path truncated = dir.resolve("truncated.safetensors");
    byte[] whole = handWritten("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        littleEndian(1, 2));
    Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length - 3));
    assertMessage(truncated, "the file ends inside tensor 'w'");

    Path trailing = dir.resolve("trailing.safetensors");
    Files.write(trailing, java.util.Arrays.copyOf(whole, whole.length + 4));
    assertMessage(trailing, "the tensors' data ends at byte");

    Path half = dir.resolve("half.safetensors");
    Files.write(half, handWritten("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],"
        + "\"data_offsets\":[0,4]}}", new byte[4]));
    assertMessage(half, "tensor 'h' has dtype F16");

    Path gap = dir.resolve("gap.safetensors");
    Files.write(gap, handWritten("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
        + "\"data_offsets\":[4,8]}}", new byte[8]));
    assertMessage(gap, "gap or overlap");

    Path shape = dir.resolve("shape.safetensors");
    Files.write(shape, handWritten("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
        + "\"data_offsets\":[0,8]}}", new byte[8]));
    assertMessage(shape, "needs 12 bytes of data but got 8");

    Path huge = dir.resolve("huge.safetensors");
    Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40)
        .array());
    assertMessage(huge, "header length");

    Path json = dir.resolve("json.safetensors");
    Files.write(json, handWritten("{\"w\": [1, 2", new byte[0]));
    assertMessage(json, "header is not JSON");

    Path empty = dir.resolve("empty.safetensors");
    Files.write(empty, new byte[3]);
    assertMessage(empty, "fewer than the 8-byte header length");
  }

  private static void assertMessage(Path file, String expected) {
    IOException e = assertThrows(IOException.class, () -> NamedTensorFile.read(file));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(expected),
        e.getMessage());
  }
}
