package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.Config;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Envelope;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.Scalar;
import dev.flops.proto.v1.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The wire codec: {@link EncodedParameters} and {@link ParameterDecoder} as a pair, then
 * {@link Manifests}, {@link Scalars} and {@link WireProtocol}.
 */
class CodecTest {

  private static final int MIB4 = WireProtocol.MAX_CHUNK_BYTES;

  // ---- fixtures ----

  /** Random finite float32 values drawn from all bit patterns, so exponents and signs vary. */
  private static float[] randomFiniteFloats(Random random, int count) {
    float[] values = new float[count];
    for (int i = 0; i < count; i++) {
      float value;
      do {
        value = Float.intBitsToFloat(random.nextInt());
      } while (!Float.isFinite(value));
      values[i] = value;
    }
    return values;
  }

  /** Values whose bits a lossy codec would change: signed zero, subnormals, extremes. */
  private static final float[] TRICKY = {
      -0.0f, 0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.intBitsToFloat(0x00400001),
      Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-40f, -1e-45f, 1.0f, -1.0f};

  private static Tensor tensor(String name, DType dtype, long[] shape, ByteBuffer littleEndian) {
    return new Tensor(name, dtype, shape, littleEndian);
  }

  private static Tensor randomTensor(Random random, String name, DType dtype, long... shape) {
    long elements = 1;
    for (long dim : shape) {
      elements *= dim;
    }
    byte[] bytes = new byte[Math.toIntExact(elements * dtype.byteSize())];
    random.nextBytes(bytes);
    if (dtype == DType.FLOAT64) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < elements; i++) {
        double value;
        do {
          value = Double.longBitsToDouble(random.nextLong());
        } while (!Double.isFinite(value));
        buffer.putDouble(i * 8, value);
      }
    }
    return tensor(name, dtype, shape, ByteBuffer.wrap(bytes));
  }

  /**
   * A model with a tensor larger than one 4 MiB chunk, odd sizes that no common chunk size
   * divides, tricky float values, a scalar, empty tensors (also first and last) and every dtype.
   */
  private static Parameters mixedParameters(long seed) {
    Random random = new Random(seed);
    float[] tricky = new float[7 * 13];
    float[] filler = randomFiniteFloats(random, tricky.length);
    for (int i = 0; i < tricky.length; i++) {
      tricky[i] = i < TRICKY.length ? TRICKY[i] : filler[i];
    }
    return Parameters.of(
        Tensor.ofFloats("empty_first", new long[] {0}, new float[0]),
        Tensor.ofFloats("big", new long[] {1_100_003}, randomFiniteFloats(random, 1_100_003)),
        Tensor.ofFloats("tricky", new long[] {7, 13}, tricky),
        Tensor.ofFloats("scalar", new long[0], new float[] {-0.0f}),
        Tensor.ofFloats("empty_middle", new long[] {3, 0, 2}, new float[0]),
        randomTensor(random, "doubles", DType.FLOAT64, 5, 3),
        randomTensor(random, "ints", DType.INT32, 11),
        randomTensor(random, "longs", DType.INT64, 2, 2),
        Tensor.ofFloats("odd_bias", new long[] {1, 251}, randomFiniteFloats(random, 251)),
        Tensor.ofFloats("empty_last", new long[] {0, 4}, new float[0]));
  }

  /** A small model: 3 tensors, 4 + 36 + 20 = 60 bytes. */
  private static Parameters smallParameters() {
    return Parameters.of(
        Tensor.ofFloats("a", new long[] {1}, new float[] {1f}),
        Tensor.ofFloats("b", new long[] {3, 3}, new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}),
        Tensor.ofFloats("c", new long[] {5}, new float[] {-1, -2, -3, -4, -5}));
  }

  private static Parameters decode(EncodedParameters encoded, boolean requireFinite) {
    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    for (int i = 0; i < encoded.chunks().size(); i++) {
      decoder.accept(encoded.chunk(i));
    }
    return decoder.finish(requireFinite);
  }

  private static void assertSameBits(Parameters expected, Parameters actual) {
    assertEquals(expected.names(), actual.names());
    for (int t = 0; t < expected.size(); t++) {
      Tensor e = expected.tensors().get(t);
      Tensor a = actual.tensors().get(t);
      assertEquals(e.dtype(), a.dtype(), e.name());
      assertArrayEquals(e.shape(), a.shape(), e.name());
      if (e.dtype() == DType.FLOAT32) {
        float[] ev = e.toFloatArray();
        float[] av = a.toFloatArray();
        assertEquals(ev.length, av.length, e.name());
        for (int i = 0; i < ev.length; i++) {
          if (Float.floatToRawIntBits(ev[i]) != Float.floatToRawIntBits(av[i])) {
            throw new AssertionError(String.format("%s[%d]: expected bits %08x but got %08x",
                e.name(), i, Float.floatToRawIntBits(ev[i]), Float.floatToRawIntBits(av[i])));
          }
        }
      }
      // byte-for-byte for every dtype
      assertEquals(e.data(), a.data(), e.name());
    }
    assertEquals(expected, actual);
  }

  private static byte[] concatenatedData(Parameters parameters) {
    ByteBuffer all = ByteBuffer.allocate(Math.toIntExact(parameters.byteSize()));
    parameters.forEach(tensor -> all.put(tensor.data()));
    return all.array();
  }

  private static Chunk chunk(long index, byte[] data) {
    return Chunk.newBuilder().setIndex(index).setData(ByteString.copyFrom(data)).build();
  }

  private static void assertMessageContains(Exception e, String... parts) {
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part),
          () -> "expected '" + part + "' in: " + e.getMessage());
    }
  }

  // ---- encode / decode ----

  @Nested
  class RoundTrip {

    @Test
    void defaultChunkSize_preservesNamesShapesDtypesAndExactBits() {
      Parameters parameters = mixedParameters(1);

      EncodedParameters encoded = EncodedParameters.encode(parameters);

      assertEquals(WireProtocol.DEFAULT_CHUNK_BYTES, encoded.manifest().getChunkSize());
      long bytes = parameters.byteSize();
      assertEquals((bytes + WireProtocol.DEFAULT_CHUNK_BYTES - 1) / WireProtocol.DEFAULT_CHUNK_BYTES,
          encoded.chunks().size(), "every chunk but the last is full");
      assertSameBits(parameters, decode(encoded, true));
    }

    @ParameterizedTest(name = "chunkSize={0}")
    @ValueSource(ints = {1000, 4093, 65_536, 4 * 1024 * 1024})
    void chunkSizesNotDividingTensorSizes_preserveExactBits(int chunkSize) {
      Parameters parameters = mixedParameters(chunkSize);

      EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);

      assertSameBits(parameters, decode(encoded, true));
    }

    @ParameterizedTest(name = "chunkSize={0}")
    @ValueSource(ints = {1, 3, 4, 7, 59, 60, 61, 1000})
    void smallParameters_anyChunkSize_roundTrip(int chunkSize) {
      Parameters parameters = smallParameters();

      assertSameBits(parameters, decode(EncodedParameters.encode(parameters, chunkSize), true));
    }

    @ParameterizedTest(name = "chunkSize={0}")
    @ValueSource(ints = {1000, 4093, 4 * 1024 * 1024})
    void chunkCountIsCeilOfTotalOverChunkSize_andOnlyTheLastIsShort(int chunkSize) {
      Parameters parameters = mixedParameters(2);
      long total = parameters.byteSize();

      EncodedParameters encoded = EncodedParameters.encode(parameters, chunkSize);

      long expectedChunks = (total + chunkSize - 1) / chunkSize;
      List<ByteString> chunks = encoded.chunks();
      assertEquals(expectedChunks, chunks.size());
      for (int i = 0; i < chunks.size() - 1; i++) {
        assertEquals(chunkSize, chunks.get(i).size(), "chunk " + i);
      }
      long last = total - (long) chunkSize * (chunks.size() - 1);
      assertTrue(last > 0 && last <= chunkSize);
      assertEquals(last, chunks.get(chunks.size() - 1).size());
    }

    @Test
    void chunks_areTheConcatenatedLittleEndianDataInManifestOrder() {
      Parameters parameters = smallParameters();

      EncodedParameters encoded = EncodedParameters.encode(parameters, 7);

      ByteString joined = ByteString.copyFrom(encoded.chunks());
      assertArrayEquals(concatenatedData(parameters), joined.toByteArray());
      // the first float, 1f, little-endian
      assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, joined.substring(0, 4).toByteArray());
      for (int i = 0; i < encoded.chunks().size(); i++) {
        assertEquals(i, encoded.chunk(i).getIndex());
        assertEquals(encoded.chunks().get(i), encoded.chunk(i).getData());
      }
    }

    @Test
    void manifest_describesTensorsTotalCrcAndChunkSize() {
      Parameters parameters = mixedParameters(3);
      CRC32C crc = new CRC32C();
      crc.update(concatenatedData(parameters));

      Manifest manifest = EncodedParameters.encode(parameters, 1000).manifest();

      assertEquals(parameters.byteSize(), manifest.getTotalBytes());
      assertEquals(1000, manifest.getChunkSize());
      assertEquals((int) crc.getValue(), manifest.getCrc32C());
      assertEquals(parameters.size(), manifest.getTensorsCount());
      TensorSpec tricky = manifest.getTensors(2);
      assertEquals("tricky", tricky.getName());
      assertEquals(dev.flops.proto.v1.DType.FLOAT32, tricky.getDtype());
      assertEquals(List.of(7L, 13L), tricky.getShapeList());
      assertEquals(List.of(), manifest.getTensors(3).getShapeList(), "scalar");
      assertEquals(dev.flops.proto.v1.DType.FLOAT64, manifest.getTensors(5).getDtype());
      assertEquals(dev.flops.proto.v1.DType.INT32, manifest.getTensors(6).getDtype());
      assertEquals(dev.flops.proto.v1.DType.INT64, manifest.getTensors(7).getDtype());
      assertDoesNotThrow(() -> Manifests.checkWellFormed(manifest));
    }

    @Test
    void noParameters_encodeToNoChunksAndDecodeToNone() {
      EncodedParameters encoded = EncodedParameters.encode(Parameters.of(), 1000);

      assertEquals(0, encoded.chunks().size());
      assertEquals(0, encoded.manifest().getTotalBytes());
      assertEquals(Parameters.of(), decode(encoded, true));
    }

    @Test
    void onlyEmptyTensors_encodeToNoChunksAndKeepTheirShapes() {
      Parameters parameters = Parameters.of(
          Tensor.ofFloats("e1", new long[] {0}, new float[0]),
          Tensor.ofFloats("e2", new long[] {2, 0}, new float[0]));

      EncodedParameters encoded = EncodedParameters.encode(parameters, 16);

      assertEquals(0, encoded.chunks().size());
      assertSameBits(parameters, decode(encoded, true));
    }

    @Test
    void decoder_reportsProgress() {
      EncodedParameters encoded = EncodedParameters.encode(smallParameters(), 25);
      ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());

      assertEquals(0, decoder.receivedBytes());
      decoder.accept(encoded.chunk(0));
      decoder.accept(encoded.chunk(1));
      assertEquals(50, decoder.receivedBytes());
      assertFalse(decoder.isComplete());
      decoder.accept(encoded.chunk(2));

      assertEquals(60, decoder.receivedBytes());
      assertTrue(decoder.isComplete());
      assertEquals(encoded.manifest(), decoder.manifest());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 4 * 1024 * 1024 + 1})
    void encode_chunkSizeOutOfRange_throwsWithValue(int chunkSize) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> EncodedParameters.encode(smallParameters(), chunkSize));

      assertMessageContains(e, "chunkSize", "was " + chunkSize);
    }
  }

  // ---- stream errors ----

  @Nested
  class StreamErrors {

    private final EncodedParameters encoded = EncodedParameters.encode(smallParameters(), 25);

    private ParameterDecoder decoder() {
      return new ParameterDecoder(encoded.manifest());
    }

    @Test
    void outOfOrderChunk_throwsNamingExpectedAndActualIndex() {
      ParameterDecoder decoder = decoder();

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(encoded.chunk(1)));

      assertMessageContains(e, "expected chunk 0 but got chunk 1");
    }

    @Test
    void duplicatedChunk_throwsNamingExpectedAndActualIndex() {
      ParameterDecoder decoder = decoder();
      decoder.accept(encoded.chunk(0));

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(encoded.chunk(0)));

      assertMessageContains(e, "expected chunk 1 but got chunk 0");
    }

    @Test
    void missingChunk_finishBeforeComplete_throwsWithBytesReceivedAndExpected() {
      ParameterDecoder decoder = decoder();
      decoder.accept(encoded.chunk(0));
      decoder.accept(encoded.chunk(1));

      WireFormatException e = assertThrows(WireFormatException.class, () -> decoder.finish(true));

      assertMessageContains(e, "after 50 of 60 bytes", "2 chunks");
    }

    @Test
    void finishWithNoChunksAtAll_throws() {
      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder().finish(false));

      assertMessageContains(e, "after 0 of 60 bytes");
    }

    @Test
    void chunkBeyondTheTotal_throws() {
      ParameterDecoder decoder = decoder();
      for (int i = 0; i < 3; i++) {
        decoder.accept(encoded.chunk(i));
      }

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(chunk(3, new byte[4])));

      assertMessageContains(e, "chunk 3", "beyond", "60 bytes");
    }

    @Test
    void anyChunkForAnEmptyManifest_isBeyondTheTotal() {
      ParameterDecoder decoder =
          new ParameterDecoder(EncodedParameters.encode(Parameters.of(), 8).manifest());

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(chunk(0, new byte[0])));

      assertMessageContains(e, "beyond");
    }

    @Test
    void shortChunkBeforeTheLast_throwsWithBothSizes() {
      ParameterDecoder decoder = decoder();

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(chunk(0, new byte[24])));

      assertMessageContains(e, "chunk 0 holds 24 bytes but must hold 25");
    }

    @Test
    void oversizedChunk_throwsWithBothSizes() {
      ParameterDecoder decoder = decoder();

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(chunk(0, new byte[26])));

      assertMessageContains(e, "chunk 0 holds 26 bytes but must hold 25");
    }

    @Test
    void lastChunkLongerThanTheRemainder_throws() {
      ParameterDecoder decoder = decoder();
      decoder.accept(encoded.chunk(0));
      decoder.accept(encoded.chunk(1));

      // 10 bytes remain; a full-size 25-byte chunk would run past the total
      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decoder.accept(chunk(2, new byte[25])));

      assertMessageContains(e, "chunk 2 holds 25 bytes but must hold 10");
    }

    @Test
    void flippedByte_failsTheChecksumAtFinish() {
      ParameterDecoder decoder = decoder();
      byte[] corrupt = encoded.chunks().get(1).toByteArray();
      corrupt[5] ^= 0x01;
      decoder.accept(encoded.chunk(0));
      decoder.accept(chunk(1, corrupt));
      decoder.accept(encoded.chunk(2));

      WireFormatException e = assertThrows(WireFormatException.class, () -> decoder.finish(false));

      assertMessageContains(e, "checksum mismatch",
          String.format("%08x", encoded.manifest().getCrc32C()));
    }

    @Test
    void manifestWithWrongChecksum_failsAtFinish() {
      Manifest wrongCrc = encoded.manifest().toBuilder()
          .setCrc32C(encoded.manifest().getCrc32C() ^ 0x100).build();
      ParameterDecoder decoder = new ParameterDecoder(wrongCrc);
      for (int i = 0; i < 3; i++) {
        decoder.accept(encoded.chunk(i));
      }

      WireFormatException e = assertThrows(WireFormatException.class, () -> decoder.finish(true));

      assertMessageContains(e, "checksum mismatch");
    }
  }

  // ---- finiteness ----

  @Nested
  class Finiteness {

    private final int quietNanWithPayload = 0x7fc00123;

    private Parameters withFloats(float... values) {
      return Parameters.of(
          Tensor.ofFloats("ok", 1f, 2f),
          Tensor.ofFloats("weights", values));
    }

    @Test
    void nanInFloat32_rejectedWhenRequiringFinite_namingTensorAndElement() {
      EncodedParameters encoded =
          EncodedParameters.encode(withFloats(1f, Float.intBitsToFloat(quietNanWithPayload), 3f));

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decode(encoded, true));

      assertMessageContains(e, "'weights'", "NaN", "element 1");
    }

    @Test
    void positiveInfinityInFloat32_rejectedWhenRequiringFinite_namingTensorAndElement() {
      EncodedParameters encoded =
          EncodedParameters.encode(withFloats(1f, 2f, Float.POSITIVE_INFINITY));

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> decode(encoded, true));

      assertMessageContains(e, "'weights'", "Infinity", "element 2");
    }

    @Test
    void nanAndInfinity_acceptedWithoutRequiringFinite_bitsPreserved() {
      Parameters parameters = withFloats(
          Float.intBitsToFloat(quietNanWithPayload), Float.POSITIVE_INFINITY,
          Float.NEGATIVE_INFINITY, -0.0f);

      Parameters decoded = decode(EncodedParameters.encode(parameters, 3), false);

      assertSameBits(parameters, decoded);
      assertEquals(quietNanWithPayload,
          Float.floatToRawIntBits(decoded.get("weights").toFloatArray()[0]));
    }

    @Test
    void nanInFloat64_rejectedWhenRequiringFinite() {
      ByteBuffer doubles = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
          .putDouble(1.0).putDouble(Double.NaN);
      doubles.flip();
      Parameters parameters =
          Parameters.of(new Tensor("d", DType.FLOAT64, new long[] {2}, doubles));

      WireFormatException e = assertThrows(WireFormatException.class,
          () -> decode(EncodedParameters.encode(parameters), true));

      assertMessageContains(e, "'d'", "element 1");
    }

    @Test
    void integerTensors_areNotCheckedForFiniteness() {
      // 0x7fc00000 is a NaN as a float but a perfectly good int
      ByteBuffer ints = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0x7fc00000);
      ints.flip();
      Parameters parameters = Parameters.of(new Tensor("i", DType.INT32, new long[] {1}, ints));

      assertSameBits(parameters, decode(EncodedParameters.encode(parameters), true));
    }
  }

  // ---- manifests ----

  @Nested
  class MalformedManifests {

    private Manifest valid() {
      return EncodedParameters.encode(smallParameters(), 25).manifest();
    }

    private WireFormatException rejected(Manifest manifest) {
      WireFormatException fromCheck =
          assertThrows(WireFormatException.class, () -> Manifests.checkWellFormed(manifest));
      WireFormatException fromDecoder =
          assertThrows(WireFormatException.class, () -> new ParameterDecoder(manifest));
      assertEquals(fromCheck.getMessage(), fromDecoder.getMessage());
      return fromCheck;
    }

    @Test
    void validManifest_accepted() {
      assertDoesNotThrow(() -> Manifests.checkWellFormed(valid()));
    }

    @Test
    void totalBytesNotMatchingSpecs_rejectedWithBothTotals() {
      WireFormatException e = rejected(valid().toBuilder().setTotalBytes(64).build());

      assertMessageContains(e, "total_bytes 64", "need 60 bytes");
    }

    @Test
    void chunkSizeZero_rejected() {
      WireFormatException e = rejected(valid().toBuilder().setChunkSize(0).build());

      assertMessageContains(e, "chunk_size 0", "outside [1, " + MIB4 + "]");
    }

    @Test
    void chunkSizeAboveFourMiB_rejected() {
      WireFormatException e = rejected(valid().toBuilder().setChunkSize(MIB4 + 1).build());

      assertMessageContains(e, "chunk_size " + (MIB4 + 1));
    }

    @Test
    void chunkSizeAboveTwoToThe31_rejectedAndPrintedUnsigned() {
      WireFormatException e = rejected(valid().toBuilder().setChunkSize(0x80000000).build());

      assertMessageContains(e, "chunk_size 2147483648");
    }

    @Test
    void duplicateNames_rejectedNamingTheName() {
      Manifest manifest = valid().toBuilder()
          .setTensors(2, valid().getTensors(2).toBuilder().setName("a"))
          .build();

      WireFormatException e = rejected(manifest);

      assertMessageContains(e, "unique", "'a'");
    }

    @Test
    void blankName_rejected() {
      Manifest manifest = valid().toBuilder()
          .setTensors(0, valid().getTensors(0).toBuilder().setName(" "))
          .build();

      assertMessageContains(rejected(manifest), "not blank");
    }

    @Test
    void unspecifiedDtype_rejectedNamingTensor() {
      Manifest manifest = valid().toBuilder()
          .setTensors(1, valid().getTensors(1).toBuilder()
              .setDtype(dev.flops.proto.v1.DType.DTYPE_UNSPECIFIED))
          .build();

      assertMessageContains(rejected(manifest), "'b'", "unknown dtype 0");
    }

    @Test
    void unrecognisedDtypeNumber_rejectedNamingTensorAndNumber() {
      Manifest manifest = valid().toBuilder()
          .setTensors(1, valid().getTensors(1).toBuilder().setDtypeValue(99))
          .build();

      assertMessageContains(rejected(manifest), "'b'", "unknown dtype 99");
    }

    @Test
    void negativeDimension_rejectedNamingTensor() {
      Manifest manifest = valid().toBuilder()
          .setTensors(1, valid().getTensors(1).toBuilder().setShape(0, -3).setShape(1, -3))
          .build();

      assertMessageContains(rejected(manifest), "'b'", "negative dimension");
    }

    @Test
    void tensorAboveTwoGiB_rejectedByTheDecoderBeforeAllocating() {
      long elements = 600_000_000L; // 2.4 GB of float32
      Manifest manifest = Manifest.newBuilder()
          .addTensors(TensorSpec.newBuilder().setName("huge")
              .setDtype(dev.flops.proto.v1.DType.FLOAT32).addShape(elements))
          .setTotalBytes(elements * 4)
          .setChunkSize(MIB4)
          .build();
      assertDoesNotThrow(() -> Manifests.checkWellFormed(manifest));

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> new ParameterDecoder(manifest));

      assertMessageContains(e, "'huge'", "2400000000 bytes");
    }

    @Test
    void shapeWhoseByteCountOverflowsALong_rejectedAsWireFormatError() {
      Manifest manifest = Manifest.newBuilder()
          .addTensors(TensorSpec.newBuilder().setName("overflow")
              .setDtype(dev.flops.proto.v1.DType.FLOAT32).addShape(1L << 40).addShape(1L << 40))
          .setTotalBytes(0)
          .setChunkSize(MIB4)
          .build();

      WireFormatException e = rejected(manifest);

      assertMessageContains(e, "'overflow'");
    }
  }

  @Nested
  class ManifestMismatch {

    private final Parameters expected = smallParameters();

    private Manifest manifestOf(Parameters parameters) {
      return EncodedParameters.encode(parameters, 1000).manifest();
    }

    @Test
    void sameStructureDifferentValues_isEmpty() {
      Parameters other = Parameters.of(
          Tensor.ofFloats("a", new long[] {1}, new float[] {9f}),
          Tensor.ofFloats("b", new long[] {3, 3}, new float[9]),
          Tensor.ofFloats("c", new long[] {5}, new float[5]));

      assertEquals(Optional.empty(), Manifests.describeMismatch(manifestOf(other), expected));
      assertEquals(Optional.empty(), Manifests.describeMismatch(Manifests.describe(expected), expected));
    }

    @Test
    void differentCount_reportsBothCountsAndNames() {
      Parameters fewer = Parameters.of(expected.get("a"), expected.get("b"));

      String mismatch = Manifests.describeMismatch(manifestOf(fewer), expected).orElseThrow();

      assertMessageContains(new Exception(mismatch), "expected 3 tensors [a, b, c]", "has 2 [a, b]");
    }

    @Test
    void differentName_reportsPositionAndBothNames() {
      Parameters renamed = Parameters.of(expected.get("a"),
          Tensor.ofFloats("B", new long[] {3, 3}, new float[9]), expected.get("c"));

      String mismatch = Manifests.describeMismatch(manifestOf(renamed), expected).orElseThrow();

      assertMessageContains(new Exception(mismatch), "tensor #1", "b FLOAT32[3, 3]", "B FLOAT32[3, 3]");
    }

    @Test
    void differentShape_reportsBothShapes() {
      Parameters reshaped = Parameters.of(expected.get("a"),
          Tensor.ofFloats("b", new long[] {9}, new float[9]), expected.get("c"));

      String mismatch = Manifests.describeMismatch(manifestOf(reshaped), expected).orElseThrow();

      assertMessageContains(new Exception(mismatch), "tensor #1", "b FLOAT32[3, 3]", "b FLOAT32[9]");
    }

    @Test
    void differentDtype_reportsBothDtypes() {
      Parameters ints = Parameters.of(expected.get("a"), expected.get("b"),
          new Tensor("c", DType.INT32, new long[] {5}, ByteBuffer.allocate(20)));

      String mismatch = Manifests.describeMismatch(manifestOf(ints), expected).orElseThrow();

      assertMessageContains(new Exception(mismatch), "tensor #2", "c FLOAT32[5]", "c INT32[5]");
    }

    @Test
    void unknownDtype_isAMismatchNotAnException() {
      Manifest manifest = manifestOf(expected).toBuilder()
          .setTensors(0, manifestOf(expected).getTensors(0).toBuilder().setDtypeValue(42))
          .build();

      String mismatch = Manifests.describeMismatch(manifest, expected).orElseThrow();

      assertMessageContains(new Exception(mismatch), "tensor #0", "a FLOAT32[1]");
    }
  }

  // ---- scalars ----

  @Nested
  class ScalarMaps {

    @Test
    void config_roundTripsEveryScalarType() {
      Config config = Config.of(
          "shuffle", true, "local_epochs", 3, "big", Long.MIN_VALUE, "learning_rate", 1e-3,
          "neg_zero", -0.0, "optimizer", "adam", "empty", "");

      Map<String, Scalar> wire = Scalars.toWire(config);
      Config back = Scalars.toConfig(wire);

      assertEquals(config, back);
      assertEquals(Scalar.ValueCase.BOOL_VALUE, wire.get("shuffle").getValueCase());
      assertEquals(Scalar.ValueCase.INT_VALUE, wire.get("local_epochs").getValueCase());
      assertEquals(Scalar.ValueCase.DOUBLE_VALUE, wire.get("learning_rate").getValueCase());
      assertEquals(Scalar.ValueCase.STRING_VALUE, wire.get("optimizer").getValueCase());
      assertEquals(Double.doubleToRawLongBits(-0.0),
          Double.doubleToRawLongBits(back.getDouble("neg_zero", 1)));
      assertEquals(Long.MIN_VALUE, back.getLong("big", 0));
    }

    @Test
    void emptyConfig_roundTrips() {
      assertEquals(Config.empty(), Scalars.toConfig(Scalars.toWire(Config.empty())));
    }

    @Test
    void metrics_roundTripIncludingSpecialValues() {
      Map<String, Double> metrics = new LinkedHashMap<>();
      metrics.put("accuracy", 0.875);
      metrics.put("train_loss", 1e-300);
      metrics.put("nan", Double.NaN);
      metrics.put("inf", Double.NEGATIVE_INFINITY);

      assertEquals(metrics, Scalars.toMetrics(Scalars.metricsToWire(metrics)));
    }

    @Test
    void toMetrics_widensIntegersAndBooleans() {
      Map<String, Scalar> wire = Map.of(
          "count", Scalar.newBuilder().setIntValue(7).build(),
          "converged", Scalar.newBuilder().setBoolValue(true).build(),
          "diverged", Scalar.newBuilder().setBoolValue(false).build());

      assertEquals(Map.of("count", 7.0, "converged", 1.0, "diverged", 0.0),
          Scalars.toMetrics(wire));
    }

    @Test
    void toMetrics_stringValue_throwsNamingTheMetric() {
      Map<String, Scalar> wire = Map.of("label", Scalar.newBuilder().setStringValue("cat").build());

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> Scalars.toMetrics(wire));

      assertMessageContains(e, "'label'", "cat");
    }

    @Test
    void scalarWithoutValue_throwsNamingTheKey() {
      Map<String, Scalar> wire = Map.of("unset", Scalar.getDefaultInstance());

      WireFormatException config =
          assertThrows(WireFormatException.class, () -> Scalars.toConfig(wire));
      WireFormatException metrics =
          assertThrows(WireFormatException.class, () -> Scalars.toMetrics(wire));

      assertMessageContains(config, "'unset'", "no value");
      assertMessageContains(metrics, "'unset'", "no value");
    }
  }

  // ---- protocol ----

  @Nested
  class Protocol {

    @Test
    void checkVersion_otherVersion_throwsNamingBothVersions() {
      Envelope v2 = Envelope.newBuilder().setProtocolVersion(2).setRound(3).build();

      WireFormatException e =
          assertThrows(WireFormatException.class, () -> WireProtocol.checkVersion(v2));

      assertMessageContains(e, "v2", "v1");
    }

    @Test
    void checkVersion_unsetVersion_throws() {
      WireFormatException e = assertThrows(WireFormatException.class,
          () -> WireProtocol.checkVersion(Envelope.getDefaultInstance()));

      assertMessageContains(e, "v0", "v1");
    }

    @Test
    void envelope_carriesThisVersionAndTheRound_andPassesTheCheck() {
      Envelope envelope = WireProtocol.envelope(5);

      assertEquals(WireProtocol.VERSION, envelope.getProtocolVersion());
      assertEquals(1, envelope.getProtocolVersion());
      assertEquals(5, envelope.getRound());
      assertDoesNotThrow(() -> WireProtocol.checkVersion(envelope));
    }

    @Test
    void maxMessage_leavesRoomAroundAFullChunk() {
      assertEquals(4 * 1024 * 1024, WireProtocol.MAX_CHUNK_BYTES);
      Chunk full = Chunk.newBuilder().setIndex(Long.MAX_VALUE)
          .setData(ByteString.copyFrom(new byte[WireProtocol.MAX_CHUNK_BYTES])).build();
      assertTrue(full.getSerializedSize() < WireProtocol.MAX_MESSAGE_BYTES);
    }
  }
}
