package dev.flops.proto.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.WireFormat;
import dev.flops.proto.v1.Chunk;
import io.grpc.Drainable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One message of a chunked stream (an upload or a download) as the transport delivered it: the
 * message, and, when it carries a {@link Chunk}, that chunk's data as read-only views of the
 * buffers the bytes arrived in.
 *
 * <p>Why: protobuf 4 copies any buffer it cannot wrap as an array into a new {@code byte[]}, and
 * gRPC's own protobuf marshaller first copies each message into a {@code byte[]} of its own, so a
 * 1 MiB chunk crossed the heap twice before the decoder copied it a third time into its tensor.
 * {@link #marshaller} instead reads the message's small fields with protobuf and leaves the chunk's
 * data where netty received it; {@link ParameterDecoder#accept(long, List)} then checksums,
 * copies and scans it in one pass into the update's buffer: one copy per byte, no garbage.
 *
 * <p><b>Lifetime</b>: a frame is borrowed. Its chunk data is valid only until the gRPC callback
 * that delivered it returns (gRPC releases the receive buffers then); a frame must not be kept or
 * handed to another thread. {@link #message()} (whose chunk data field is empty on the fast path)
 * may be kept. Not thread-safe.
 *
 * @param <T> the message type, which has a {@link Chunk} field (e.g. {@code UploadMessage})
 */
public final class WireFrame<T extends Message> {
  private final T message;
  private final List<ByteBuffer> chunkData;
  private final int chunkBytes;
  private final int serializedSize;

  private WireFrame(T message, List<ByteBuffer> chunkData, int serializedSize) {
    this.message = message;
    this.chunkData = chunkData;
    int bytes = 0;
    for (ByteBuffer piece : chunkData) {
      bytes += piece.remaining();
    }
    this.chunkBytes = bytes;
    this.serializedSize = serializedSize;
  }

  /**
   * Wraps a parsed message; its chunk data (if any) is served from the message itself.
   *
   * @param message the message
   * @param chunkField the number of its {@link Chunk} field
   * @param <T> the message type
   * @return the frame
   * @throws IllegalArgumentException if the message has no message field of that number
   */
  public static <T extends Message> WireFrame<T> of(T message, int chunkField) {
    return new WireFrame<>(message, dataOf(message, chunkField(message, chunkField)),
        message.getSerializedSize());
  }

  /**
   * Makes a frame to send whose chunk data is read from the given buffers when gRPC serialises
   * it, so that a chunk of a model held in direct (or read-only) buffers reaches gRPC's output
   * buffers in one copy, without a {@code byte[]} of its own.
   *
   * <p>The buffers are borrowed: their contents must not change until gRPC has serialised the
   * frame, which it does inside the {@code onNext} that sends it.
   *
   * @param message the message; its chunk field must be set, with empty data
   * @param chunkField the number of its {@link Chunk} field
   * @param chunkData the chunk's data, from each buffer's position to its limit
   * @param <T> the message type
   * @return the frame
   * @throws IllegalArgumentException if the message has no chunk, or its chunk holds data
   */
  public static <T extends Message> WireFrame<T> outgoing(T message, int chunkField,
      List<ByteBuffer> chunkData) {
    FieldDescriptor field = chunkField(message, chunkField);
    if (!message.hasField(field) || !((Chunk) message.getField(field)).getData().isEmpty()) {
      throw new IllegalArgumentException("an outgoing frame's message must carry a chunk "
          + "without data; the data goes in chunkData");
    }
    List<ByteBuffer> views = new ArrayList<>(chunkData.size());
    for (ByteBuffer piece : chunkData) {
      views.add(piece.asReadOnlyBuffer());
    }
    Chunk chunk = (Chunk) message.getField(field);
    int dataBytes = 0;
    for (ByteBuffer piece : views) {
      dataBytes += piece.remaining();
    }
    return new WireFrame<>(message, views, wireSize(message, chunkField, chunk, dataBytes));
  }

  /** The size of the message with {@code dataBytes} of data in its chunk. */
  private static int wireSize(Message message, int chunkField, Chunk chunk, int dataBytes) {
    int chunkBytes = chunkBytes(chunk, dataBytes);
    return message.getSerializedSize() - CodedOutputStream.computeMessageSize(chunkField, chunk)
        + CodedOutputStream.computeTagSize(chunkField)
        + CodedOutputStream.computeUInt32SizeNoTag(chunkBytes) + chunkBytes;
  }

  /** The size of a chunk message holding {@code dataBytes} of data (protobuf omits empty data). */
  private static int chunkBytes(Chunk withoutData, int dataBytes) {
    return withoutData.getSerializedSize() + (dataBytes == 0 ? 0
        : CodedOutputStream.computeTagSize(Chunk.DATA_FIELD_NUMBER)
            + CodedOutputStream.computeUInt32SizeNoTag(dataBytes) + dataBytes);
  }

  private static List<ByteBuffer> dataOf(Message message, FieldDescriptor field) {
    return message.hasField(field)
        ? ((Chunk) message.getField(field)).getData().asReadOnlyByteBufferList() : List.of();
  }

  /**
   * Returns the message. On the marshaller's fast path its chunk's data field is empty: read the
   * data with {@link #chunkData()}.
   *
   * @return the message
   */
  public T message() {
    return message;
  }

  /**
   * Returns the chunk's data as read-only views, in order; empty when the message carries no
   * chunk. Valid only until the callback that delivered the frame returns.
   *
   * @return the views; their positions and limits bound the data
   */
  public List<ByteBuffer> chunkData() {
    List<ByteBuffer> views = new ArrayList<>(chunkData.size());
    for (ByteBuffer piece : chunkData) {
      views.add(piece.asReadOnlyBuffer());
    }
    return views;
  }

  /**
   * Returns the number of bytes of chunk data.
   *
   * @return the size, 0 when the message carries no chunk
   */
  public int chunkBytes() {
    return chunkBytes;
  }

  /**
   * Returns the message's size on the wire, without gRPC's and HTTP/2's framing.
   *
   * @return bytes
   */
  public int serializedSize() {
    return serializedSize;
  }

  /**
   * Returns a gRPC marshaller of frames of one message type.
   *
   * <p>Parsing: when gRPC hands over a stream that exposes its buffers ({@link HasByteBuffer},
   * which grpc-netty does for received messages), the chunk's data is left in those buffers and
   * every other field is parsed by protobuf as usual (pieces of the stream that expose no buffer,
   * such as gRPC's coalesced small receive buffers, are copied, up to 64 KiB a message; a stream
   * with more such bytes is parsed whole); a message that carries its chunk field more
   * than once is parsed by protobuf whole, with its usual merge rules. Other streams are read and
   * parsed by protobuf whole. Bytes that are not a valid message fail with INTERNAL "Invalid
   * protobuf byte sequence", as gRPC's own protobuf marshaller does.
   *
   * <p>Streaming (sending): the frame's message, with its chunk data (for a frame made by
   * {@link #outgoing} or parsed on the fast path) written from the frame's buffers, serialised
   * through a 64 KiB buffer straight into gRPC's output.
   *
   * @param prototype the message type's default instance
   * @param chunkField the number of its {@link Chunk} field (3 in {@code UploadMessage} and
   *     {@code ParameterMessage})
   * @param <T> the message type
   * @return the marshaller
   * @throws IllegalArgumentException if the message type has no {@link Chunk} field of that number
   */
  public static <T extends Message> MethodDescriptor.PrototypeMarshaller<WireFrame<T>> marshaller(
      T prototype, int chunkField) {
    chunkField(prototype, chunkField);
    return new FrameMarshaller<>(prototype, chunkField);
  }

  private static FieldDescriptor chunkField(Message message, int number) {
    FieldDescriptor field = message.getDescriptorForType().findFieldByNumber(number);
    if (field == null || field.getType() != FieldDescriptor.Type.MESSAGE
        || !field.getMessageType().getFullName().equals(Chunk.getDescriptor().getFullName())
        || field.isRepeated()) {
      throw new IllegalArgumentException(String.format(
          "%s has no singular Chunk field numbered %d; pass the number of its Chunk field",
          message.getDescriptorForType().getFullName(), number));
    }
    return field;
  }

  private static final class FrameMarshaller<T extends Message>
      implements MethodDescriptor.PrototypeMarshaller<WireFrame<T>> {
    private static final int CHUNK_INDEX = Chunk.INDEX_FIELD_NUMBER;
    private static final int CHUNK_DATA = Chunk.DATA_FIELD_NUMBER;
    private static final int STAGING_BYTES = 64 * 1024;
    /** Bytes copied at a time out of pieces of a received stream that expose no buffer. */
    private static final int COPY_STEP = 1024;
    /** Bytes copied at most out of such pieces before the message is parsed whole instead. */
    private static final int MAX_COPIED_BYTES = 64 * 1024;
    /** A field's tag: its number and wire type (protobuf's WireFormat.makeTag is not public). */
    private static int tag(int field, int wireType) {
      return field << 3 | wireType;
    }

    private final T prototype;
    private final int chunkField;
    private final MethodDescriptor.Marshaller<T> whole;

    @SuppressWarnings("unchecked")
    FrameMarshaller(T prototype, int chunkField) {
      this.prototype = prototype;
      this.chunkField = chunkField;
      this.whole = ProtoUtils.marshaller(prototype);
    }

    @Override
    public WireFrame<T> getMessagePrototype() {
      return new WireFrame<>(prototype, List.of(), 0);
    }

    @Override
    public Class<WireFrame<T>> getMessageClass() {
      @SuppressWarnings("unchecked")
      Class<WireFrame<T>> type = (Class<WireFrame<T>>) (Class<?>) WireFrame.class;
      return type;
    }

    @Override
    public InputStream stream(WireFrame<T> frame) {
      T message = frame.message;
      FieldDescriptor field = chunkField(message, chunkField);
      if (frame.chunkBytes > 0 && message.hasField(field)
          && ((Chunk) message.getField(field)).getData().isEmpty()) {
        return new MessageStream(out -> {
          // The message's other fields, then its chunk with the data written from the frame's
          // buffers: protobuf parsers accept fields in any order.
          Chunk chunk = (Chunk) message.getField(field);
          @SuppressWarnings("unchecked")
          T rest = (T) message.toBuilder().clearField(field).build();
          rest.writeTo(out);
          out.writeTag(chunkField, WireFormat.WIRETYPE_LENGTH_DELIMITED);
          out.writeUInt32NoTag(chunkBytes(chunk, frame.chunkBytes));
          chunk.writeTo(out);
          out.writeTag(Chunk.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
          out.writeUInt32NoTag(frame.chunkBytes);
          for (ByteBuffer piece : frame.chunkData) {
            out.write(piece.duplicate());
          }
        }, wireSize(message, chunkField, (Chunk) message.getField(field), frame.chunkBytes));
      }
      return new MessageStream(message::writeTo, message.getSerializedSize());
    }

    @Override
    public WireFrame<T> parse(InputStream stream) {
      try {
        if (stream instanceof HasByteBuffer buffered && stream instanceof KnownLength
            && stream.markSupported()) {
          WireFrame<T> frame = parseInPlace(stream, buffered);
          if (frame != null) {
            return frame;
          }
          stream.reset(); // the stream exposes too little of itself: parsed whole below
        }
        return WireFrame.of(whole.parse(new ByteArrayInputStream(stream.readAllBytes())),
            chunkField);
      } catch (InvalidProtocolBufferException e) {
        throw Status.INTERNAL.withDescription("Invalid protobuf byte sequence").withCause(e)
            .asRuntimeException();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Collects the stream's buffers without consuming them (the mark keeps gRPC from releasing
     * the ones read past until the stream is closed), then parses the message from them, leaving
     * the chunk's data where it is.
     *
     * <p>A stream may mix exposed buffers with pieces that expose none: gRPC coalesces a run of
     * small (under 1 KiB) receive buffers into a {@code byte[]}, whose {@code getByteBuffer}
     * throws {@link UnsupportedOperationException} and which makes the whole stream report
     * {@code byteBufferSupported() == false}; over netty this happened to one 1 MiB chunk in ten
     * or so, each then copied whole twice (4 MiB of garbage). Such pieces are copied here in
     * steps of {@value #COPY_STEP} bytes, the rest stays in place; a stream that exposes less
     * than all but {@value #MAX_COPIED_BYTES} bytes of itself is left to the whole parse.
     *
     * @return the frame, or null (the stream read past its mark) if too much had to be copied
     */
    private WireFrame<T> parseInPlace(InputStream stream, HasByteBuffer buffered)
        throws IOException {
      int size = stream.available();
      stream.mark(size);
      List<ByteBuffer> buffers = new ArrayList<>();
      int copied = 0;
      for (int left = size; left > 0; ) {
        ByteBuffer piece = exposedBuffer(buffered);
        if (piece == null) {
          int n = Math.min(left, COPY_STEP);
          copied += n;
          if (copied > MAX_COPIED_BYTES) {
            return null;
          }
          byte[] bytes = stream.readNBytes(n);
          if (bytes.length != n) {
            throw new IOException("the stream announced " + size + " bytes but holds only "
                + (size - left + bytes.length));
          }
          buffers.add(ByteBuffer.wrap(bytes).asReadOnlyBuffer());
          left -= n;
          continue;
        }
        if (!piece.hasRemaining()) {
          throw new IOException("the stream announced " + size + " bytes but exposes only "
              + (size - left));
        }
        piece = piece.slice(piece.position(), Math.min(piece.remaining(), left));
        buffers.add(piece);
        left -= piece.remaining();
        long skipped = stream.skip(piece.remaining());
        if (skipped != piece.remaining()) {
          throw new IOException("the stream skipped " + skipped + " of " + piece.remaining()
              + " bytes");
        }
      }
      CodedInputStream in = codedInput(buffers);
      // Every field but the chunk's data is re-encoded here (a few dozen bytes) and parsed by
      // protobuf, so its rules (unknown fields, last-one-wins, oneofs) apply unchanged.
      ByteString.Output rest = ByteString.newOutput(64);
      CodedOutputStream restOut = CodedOutputStream.newInstance(rest, 64);
      long dataStart = -1;
      int dataLength = 0;
      boolean chunkSeen = false;
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag != tag(chunkField, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
          in.skipField(tag, restOut);
          continue;
        }
        if (chunkSeen) {
          // Two chunk fields merge under protobuf's rules; leave that rare case to protobuf.
          return parseWhole(buffers, size);
        }
        chunkSeen = true;
        int length = in.readRawVarint32();
        int limit = in.pushLimit(length);
        ByteString.Output chunk = ByteString.newOutput(16);
        CodedOutputStream chunkOut = CodedOutputStream.newInstance(chunk, 16);
        for (int inner = in.readTag(); inner != 0; inner = in.readTag()) {
          if (inner == tag(CHUNK_DATA, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
            dataLength = in.readRawVarint32();
            if (dataLength < 0) {
              throw new InvalidProtocolBufferException(
                  "CodedInputStream encountered an embedded string or message which claimed to "
                      + "have negative size.");
            }
            dataStart = in.getTotalBytesRead();
            in.skipRawBytes(dataLength);
          } else {
            in.skipField(inner, chunkOut);
          }
        }
        in.popLimit(limit);
        chunkOut.flush();
        restOut.writeBytes(chunkField, chunk.toByteString());
      }
      in.checkLastTagWas(0);
      restOut.flush();
      T message = parseMessage(rest.toByteString().newCodedInput());
      FieldDescriptor field = chunkField(message, chunkField);
      List<ByteBuffer> data = message.hasField(field) && dataStart >= 0
          ? slices(buffers, dataStart, dataLength) : List.of();
      return new WireFrame<>(message, data, size);
    }

    /** The stream's next buffer, or null if its next piece exposes none (see parseInPlace). */
    private static ByteBuffer exposedBuffer(HasByteBuffer buffered) {
      if (buffered.byteBufferSupported()) {
        return buffered.getByteBuffer();
      }
      try {
        return buffered.getByteBuffer(); // the next piece may expose its buffer, later ones not
      } catch (UnsupportedOperationException e) {
        return null;
      }
    }

    private WireFrame<T> parseWhole(List<ByteBuffer> buffers, int size)
        throws InvalidProtocolBufferException {
      T message = parseMessage(codedInput(buffers));
      return new WireFrame<>(message, dataOf(message, chunkField(message, chunkField)), size);
    }

    /** Reads duplicates, so that the buffers' own positions stay put for slicing. */
    private static CodedInputStream codedInput(List<ByteBuffer> buffers) {
      List<ByteBuffer> duplicates = new ArrayList<>(buffers.size());
      for (ByteBuffer piece : buffers) {
        duplicates.add(piece.duplicate());
      }
      CodedInputStream in = CodedInputStream.newInstance(duplicates);
      in.setSizeLimit(Integer.MAX_VALUE);
      return in;
    }

    private T parseMessage(CodedInputStream in) throws InvalidProtocolBufferException {
      @SuppressWarnings("unchecked")
      T message = (T) prototype.getParserForType().parseFrom(in);
      return message;
    }

    private static List<ByteBuffer> slices(List<ByteBuffer> buffers, long start, int length) {
      List<ByteBuffer> out = new ArrayList<>(2);
      long offset = 0;
      for (ByteBuffer piece : buffers) {
        long end = offset + piece.remaining();
        if (length > 0 && end > start) {
          int from = (int) Math.max(0, start - offset);
          int n = (int) Math.min(piece.remaining() - from, length);
          out.add(piece.slice(piece.position() + from, n).asReadOnlyBuffer());
          start += n;
          length -= n;
        }
        offset = end;
      }
      return out;
    }
  }

  /** Writes a message's wire form. */
  @FunctionalInterface
  private interface Writer {
    void writeTo(CodedOutputStream out) throws IOException;
  }

  /**
   * A message for gRPC to send: drained into gRPC's output through a 64 KiB buffer, so a chunk's
   * bytes are copied once, from where they are held into gRPC's (netty's) buffers.
   */
  private static final class MessageStream extends InputStream implements Drainable, KnownLength {
    private Writer writer;
    private final int size;
    private InputStream serialized;

    MessageStream(Writer writer, int size) {
      this.writer = writer;
      this.size = size;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      if (writer == null) {
        return (int) serialized().transferTo(target);
      }
      CodedOutputStream out = CodedOutputStream.newInstance(target,
          Math.max(1, Math.min(size, FrameMarshaller.STAGING_BYTES)));
      writer.writeTo(out);
      out.flush();
      writer = null;
      serialized = InputStream.nullInputStream();
      return size;
    }

    /** For a transport that reads instead of draining: the bytes, made once. */
    private InputStream serialized() throws IOException {
      if (serialized == null) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(size);
        drainTo(bytes);
        serialized = new ByteArrayInputStream(bytes.toByteArray());
      }
      return serialized;
    }

    @Override
    public int available() throws IOException {
      return writer != null ? size : serialized().available();
    }

    @Override
    public int read() throws IOException {
      return serialized().read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return serialized().read(b, off, len);
    }
  }

  @Override
  public String toString() {
    return "WireFrame[" + message.getDescriptorForType().getName() + ", " + chunkBytes
        + " chunk bytes]";
  }
}
