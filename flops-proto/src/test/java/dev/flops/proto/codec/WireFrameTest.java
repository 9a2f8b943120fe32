package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.UploadHeader;
import dev.flops.proto.v1.UploadMessage;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link WireFrame}'s marshaller and {@link ParameterDecoder#accept(long, List)}. The streams
 * here are a stand-in for grpc-netty's received-message stream (this module has no transport);
 * {@code WireFrameNettyTest} in flops-aggregator checks the same path through real netty.
 */
class WireFrameTest {
  private static final MethodDescriptor.PrototypeMarshaller<WireFrame<UploadMessage>> MARSHALLER =
      WireFrame.marshaller(UploadMessage.getDefaultInstance(), UploadMessage.CHUNK_FIELD_NUMBER);

  /**
   * What grpc-netty hands a marshaller: a stream over direct buffers that exposes them
   * ({@link HasByteBuffer}), knows its length and can be marked. A heap piece stands for the
   * {@code byte[]} gRPC coalesces runs of small receive buffers into: it exposes no buffer
   * ({@code getByteBuffer} throws, as gRPC's does) and, while it is ahead, the stream says
   * {@code byteBufferSupported() == false}.
   */
  private static final class BufferStream extends InputStream implements HasByteBuffer,
      KnownLength {
    private final List<ByteBuffer> pieces;
    private int current;
    private int markPiece = -1;
    private final List<Integer> markPositions = new ArrayList<>();

    BufferStream(List<ByteBuffer> pieces) {
      this.pieces = pieces;
    }

    @Override
    public boolean byteBufferSupported() {
      return pieces.stream().allMatch(p -> p.isDirect() || !p.hasRemaining());
    }

    @Override
    public ByteBuffer getByteBuffer() {
      advance();
      if (current < pieces.size() && !pieces.get(current).isDirect()) {
        throw new UnsupportedOperationException();
      }
      return current < pieces.size() ? pieces.get(current).duplicate() : null;
    }

    private void advance() {
      while (current < pieces.size() && !pieces.get(current).hasRemaining()) {
        current++;
      }
    }

    @Override
    public int read() {
      advance();
      return current < pieces.size() ? pieces.get(current).get() & 0xff : -1;
    }

    @Override
    public long skip(long n) {
      long left = n;
      while (left > 0) {
        advance();
        if (current == pieces.size()) {
          break;
        }
        ByteBuffer piece = pieces.get(current);
        int step = (int) Math.min(left, piece.remaining());
        piece.position(piece.position() + step);
        left -= step;
      }
      return n - left;
    }

    @Override
    public int available() {
      int sum = 0;
      for (ByteBuffer piece : pieces) {
        sum += piece.remaining();
      }
      return sum;
    }

    @Override
    public boolean markSupported() {
      return true;
    }

    @Override
    public void mark(int limit) {
      markPiece = current;
      markPositions.clear();
      pieces.forEach(p -> markPositions.add(p.position()));
    }

    @Override
    public void reset() throws IOException {
      if (markPiece < 0) {
        throw new IOException("not marked");
      }
      current = markPiece;
      for (int i = 0; i < pieces.size(); i++) {
        pieces.get(i).position(markPositions.get(i));
      }
    }
  }

  /** Splits bytes into direct buffers at the given cut points. */
  private static List<ByteBuffer> direct(byte[] bytes, int... cuts) {
    List<ByteBuffer> pieces = new ArrayList<>();
    int from = 0;
    for (int cut : cuts) {
      pieces.add(ByteBuffer.allocateDirect(cut - from).put(bytes, from, cut - from).flip());
      from = cut;
    }
    pieces.add(ByteBuffer.allocateDirect(bytes.length - from)
        .put(bytes, from, bytes.length - from).flip());
    return pieces;
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] bytes = new byte[n];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static UploadMessage chunkMessage(byte[] data) {
    return UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(7))
        .setChunk(Chunk.newBuilder().setIndex(3).setData(ByteString.copyFrom(data))).build();
  }

  private static byte[] concat(List<ByteBuffer> pieces) {
    ByteString all = ByteString.EMPTY;
    for (ByteBuffer piece : pieces) {
      all = all.concat(ByteString.copyFrom(piece.duplicate()));
    }
    return all.toByteArray();
  }

  @Test
  void chunkDataIsReadInPlaceFromTheReceiveBuffers() {
    byte[] data = randomBytes(100_000, 1);
    byte[] wire = chunkMessage(data).toByteArray();
    // Cuts inside the envelope, inside the data's length prefix and twice inside the data.
    List<ByteBuffer> pieces = direct(wire, 3, 12, 40_000, 90_000);
    WireFrame<UploadMessage> frame = MARSHALLER.parse(new BufferStream(pieces));

    assertEquals(WireProtocol.envelope(7), frame.message().getEnvelope());
    assertEquals(3, frame.message().getChunk().getIndex());
    assertTrue(frame.message().getChunk().getData().isEmpty(),
        "the fast path leaves the data out of the message");
    assertEquals(data.length, frame.chunkBytes());
    assertEquals(wire.length, frame.serializedSize());
    assertArrayEquals(data, concat(frame.chunkData()));
    for (ByteBuffer view : frame.chunkData()) {
      assertTrue(view.isDirect(), "a view of the receive buffer, not a heap copy");
    }
    // A view shares memory with the receive buffer: no copy was made.
    ByteBuffer last = pieces.get(pieces.size() - 1);
    last.put(last.limit() - 1, (byte) (data[data.length - 1] ^ 0x5a));
    byte[] seen = concat(frame.chunkData());
    assertEquals((byte) (data[data.length - 1] ^ 0x5a), seen[seen.length - 1]);
  }

  @Test
  void piecesThatExposeNoBuffer_copied_theRestOfTheChunkStaysInPlace() {
    byte[] data = randomBytes(100_000, 8);
    byte[] wire = chunkMessage(data).toByteArray();
    // Small heap pieces at the start and in the middle of the data, as gRPC coalesces them.
    List<ByteBuffer> pieces = new ArrayList<>(direct(wire, 40, 174, 50_000, 50_134));
    pieces.set(1, ByteBuffer.wrap(concat(List.of(pieces.get(1)))));
    pieces.set(3, ByteBuffer.wrap(concat(List.of(pieces.get(3)))));
    WireFrame<UploadMessage> frame = MARSHALLER.parse(new BufferStream(pieces));

    assertTrue(frame.message().getChunk().getData().isEmpty(), "still the fast path");
    assertArrayEquals(data, concat(frame.chunkData()));
    long copied = frame.chunkData().stream().filter(b -> !b.isDirect())
        .mapToLong(ByteBuffer::remaining).sum();
    assertTrue(copied <= 2 * 1024, copied + " bytes copied: at most a step per heap piece");
  }

  @Test
  void aStreamThatExposesTooLittle_parsedWhole() {
    byte[] data = randomBytes(100_000, 9);
    UploadMessage message = chunkMessage(data);
    List<ByteBuffer> pieces = new ArrayList<>(direct(message.toByteArray(), 30_000));
    pieces.set(1, ByteBuffer.wrap(concat(List.of(pieces.get(1))))); // 70 KB on the heap
    WireFrame<UploadMessage> frame = MARSHALLER.parse(new BufferStream(pieces));

    assertEquals(message, frame.message(), "parsed whole by protobuf, data included");
    assertArrayEquals(data, concat(frame.chunkData()));
  }

  @Test
  void aHeaderIsCopiedOutOfTheReceiveBuffersSoItMayBeKept() {
    UploadMessage header = UploadMessage.newBuilder().setEnvelope(WireProtocol.envelope(2))
        .setHeader(UploadHeader.newBuilder().setLearnerId("l1").setTaskId("t1")
            .setNumExamples(5).setCapability(ByteString.copyFrom(randomBytes(32, 2)))
            .setManifest(Manifest.newBuilder().setTotalBytes(8).setChunkSize(8)))
        .build();
    byte[] wire = header.toByteArray();
    List<ByteBuffer> pieces = direct(wire, wire.length / 2);
    WireFrame<UploadMessage> frame = MARSHALLER.parse(new BufferStream(pieces));
    for (ByteBuffer piece : pieces) {
      for (int i = 0; i < piece.limit(); i++) {
        piece.put(i, (byte) 0);
      }
    }
    assertEquals(header, frame.message(), "the receive buffers' reuse cannot change it");
    assertEquals(0, frame.chunkBytes());
  }

  @Test
  void everyOtherFieldFollowsProtobufsRules() throws IOException {
    // Two chunk fields merge (the later data wins), an unknown field is kept.
    UploadMessage first = chunkMessage(randomBytes(10, 3));
    UploadMessage second = UploadMessage.newBuilder()
        .setChunk(Chunk.newBuilder().setData(ByteString.copyFrom(randomBytes(20, 4)))).build();
    byte[] unknown = {(byte) (15 << 3), 42}; // field 15, varint 42
    byte[] wire = ByteString.copyFrom(first.toByteArray()).concat(ByteString.copyFrom(unknown))
        .concat(second.toByteString()).toByteArray();
    WireFrame<UploadMessage> frame = MARSHALLER.parse(new BufferStream(direct(wire, 5)));
    UploadMessage expected = UploadMessage.parseFrom(wire);
    assertEquals(expected.getChunk().getData(), ByteString.copyFrom(concat(frame.chunkData())));
    assertEquals(expected.getEnvelope(), frame.message().getEnvelope());
    assertEquals(expected.getChunk().getIndex(), frame.message().getChunk().getIndex());
  }

  @Test
  void aPlainStreamIsParsedWhole() {
    byte[] data = randomBytes(1000, 5);
    UploadMessage message = chunkMessage(data);
    WireFrame<UploadMessage> frame =
        MARSHALLER.parse(new ByteArrayInputStream(message.toByteArray()));
    assertEquals(message, frame.message());
    assertArrayEquals(data, concat(frame.chunkData()));
  }

  @Test
  void bytesThatAreNoMessageFailAsGrpcsOwnMarshallerDoes() {
    byte[] garbage = {(byte) 0x1a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 1};
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> MARSHALLER.parse(new BufferStream(direct(garbage, 2))));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(e.getCause() instanceof com.google.protobuf.InvalidProtocolBufferException, "" + e);
  }

  @Test
  void aFrameStreamsAsItsWholeMessage() throws IOException {
    byte[] data = randomBytes(200_000, 6);
    UploadMessage message = chunkMessage(data);
    WireFrame<UploadMessage> frame = MARSHALLER.parse(
        new BufferStream(direct(message.toByteArray(), 100_000)));
    assertArrayEquals(message.toByteArray(), MARSHALLER.stream(frame).readAllBytes());
  }

  @Test
  void decodingFromPiecesEqualsDecodingWholeChunks() {
    float[] values = new float[300_001];
    Random random = new Random(7);
    for (int i = 0; i < values.length; i++) {
      values[i] = random.nextFloat() - 0.5f;
    }
    Parameters parameters = new Parameters(List.of(
        Tensor.ofFloats("a", new long[] {100_001}, java.util.Arrays.copyOf(values, 100_001)),
        Tensor.ofFloats("b", new long[] {200_000},
            java.util.Arrays.copyOfRange(values, 100_001, 300_001))));
    EncodedParameters encoded = EncodedParameters.encode(parameters, 256 * 1024);
    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    for (int i = 0; i < encoded.chunks().size(); i++) {
      byte[] chunk = encoded.chunks().get(i).toByteArray();
      // Pieces that do not line up with the 32 KiB blocks, the tensors or the floats.
      decoder.accept(i, direct(chunk, 1, 33_000, Math.min(chunk.length, 99_999)));
    }
    assertEquals(parameters, decoder.finish(true));
  }

  @Test
  void aNonFiniteValueInALaterBlockIsFound() {
    float[] values = new float[100_000];
    values[70_001] = Float.NaN; // past the first two 32 KiB blocks
    Parameters parameters = new Parameters(List.of(
        Tensor.ofFloats("w", new long[] {values.length}, values)));
    EncodedParameters encoded = EncodedParameters.encode(parameters);
    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    byte[] chunk = encoded.chunks().get(0).toByteArray();
    decoder.accept(0, direct(chunk, 3));
    WireFormatException e = assertThrows(WireFormatException.class, () -> decoder.finish(true));
    assertTrue(e.getMessage().contains("element 70001"), e.getMessage());
  }

  @Test
  void aCorruptedPieceFailsTheChecksum() {
    Parameters parameters = new Parameters(List.of(
        Tensor.ofFloats("w", new long[] {50_000}, new float[50_000])));
    EncodedParameters encoded = EncodedParameters.encode(parameters);
    ParameterDecoder decoder = new ParameterDecoder(encoded.manifest());
    byte[] chunk = encoded.chunks().get(0).toByteArray();
    chunk[123_456] ^= 1;
    decoder.accept(0, direct(chunk, 40_000));
    assertThrows(WireFormatException.class, () -> decoder.finish(true));
  }

  @Test
  void anOutgoingFrameWritesItsChunkFromTheTensorsAsTheWholeMessageWould() throws IOException {
    // Three tensors, one of them direct, and chunks that span tensor boundaries.
    ByteBuffer direct = ByteBuffer.allocateDirect(4 * 1000).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 1000; i++) {
      direct.putFloat(i * 4, i * 0.5f);
    }
    Parameters parameters = new Parameters(List.of(
        Tensor.ofFloats("a", new long[] {300}, new float[300]),
        new Tensor("b", dev.flops.api.DType.FLOAT32, new long[] {1000}, direct),
        Tensor.ofFloats("c", new long[] {77}, new float[77])));
    EncodedParameters encoded = EncodedParameters.encode(parameters, 1500);
    MethodDescriptor.Marshaller<WireFrame<dev.flops.proto.v1.ParameterMessage>> marshaller =
        WireFrame.marshaller(dev.flops.proto.v1.ParameterMessage.getDefaultInstance(),
            dev.flops.proto.v1.ParameterMessage.CHUNK_FIELD_NUMBER);
    for (int i = 0; i < encoded.chunks().size(); i++) {
      dev.flops.proto.v1.ParameterMessage whole = dev.flops.proto.v1.ParameterMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(4)).setChunk(encoded.chunk(i)).build();
      WireFrame<dev.flops.proto.v1.ParameterMessage> frame = WireFrame.outgoing(
          dev.flops.proto.v1.ParameterMessage.newBuilder().setEnvelope(WireProtocol.envelope(4))
              .setChunk(Chunk.newBuilder().setIndex(i)).build(),
          dev.flops.proto.v1.ParameterMessage.CHUNK_FIELD_NUMBER, encoded.chunkViews(i));
      assertEquals(whole.getSerializedSize(), frame.serializedSize());
      InputStream stream = marshaller.stream(frame);
      assertEquals(whole.getSerializedSize(), stream.available());
      java.io.ByteArrayOutputStream drained = new java.io.ByteArrayOutputStream();
      assertEquals(whole.getSerializedSize(), ((io.grpc.Drainable) stream).drainTo(drained));
      assertArrayEquals(whole.toByteArray(), drained.toByteArray(), "chunk " + i);
    }
  }

  @Test
  void anOutgoingFrameRefusesAChunkThatHoldsData() {
    UploadMessage withData = chunkMessage(new byte[] {1});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WireFrame.outgoing(withData, UploadMessage.CHUNK_FIELD_NUMBER, List.of()));
    assertTrue(e.getMessage().contains("without data"), e.getMessage());
  }

  @Test
  void chunkViewsShareTheTensorsMemory() {
    ByteBuffer direct = ByteBuffer.allocateDirect(4 * 600);
    Parameters parameters = new Parameters(List.of(
        new Tensor("w", dev.flops.api.DType.FLOAT32, new long[] {600}, direct)));
    EncodedParameters encoded = EncodedParameters.encode(parameters, 1000);
    List<ByteBuffer> views = encoded.chunkViews(1);
    assertEquals(1, views.size());
    assertTrue(views.get(0).isDirect() && views.get(0).isReadOnly());
    direct.put(1000, (byte) 7); // the chunk's first byte, written after the views were cut
    assertEquals(7, views.get(0).get(0), "a view, not a copy");
    assertThrows(IndexOutOfBoundsException.class, () -> encoded.chunkViews(3));
  }
}
