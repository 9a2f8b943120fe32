package dev.flops.proto.codec;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Reassembles parameters from a manifest and its chunks, validating as it goes: chunks must come in
 * order, each exactly once, each of the manifest's chunk size (the last may be shorter), never past
 * the total; at the end every byte must have arrived and the CRC32C must match.
 *
 * <p>Not thread-safe: feed one stream's chunks from one thread.
 */
public final class ParameterDecoder {

  /**
   * Supplies the buffer one tensor is decoded into.
   *
   * <p>The aggregator hands out direct buffers from its bounded pool of in-flight uploads, so an
   * update lands off-heap, ready for the native kernel, without a staging copy.
   */
  @FunctionalInterface
  public interface BufferSource {

    /**
     * Returns an empty buffer for one tensor.
     *
     * @param index the tensor's position in the manifest
     * @param bytes the tensor's size
     * @return a buffer with position 0 and at least {@code bytes} remaining; its byte order is
     *     ignored (the decoder sets little-endian)
     */
    ByteBuffer bufferFor(int index, int bytes);
  }

  /** Bytes checksummed, copied and scanned at a time: well inside a core's L2 cache. */
  private static final int BLOCK_BYTES = 32 * 1024;

  /** Decodes into new heap buffers. */
  public static final BufferSource HEAP = (index, bytes) -> ByteBuffer.allocate(bytes);


  private final Manifest manifest;
  private final List<ByteBuffer> buffers = new ArrayList<>();
  private final List<TensorSpec> specs;
  /** Bytes of the current tensor already scanned for non-finite values. */
  private int scanned;
  private String nonFinite;
  private final CRC32C crc = new CRC32C();
  /** The finite scan's block of values, reused across blocks. */
  private final long[] scanScratch = new long[FiniteScan.SCAN_BLOCK];
  private long received;
  private boolean finished;
  private long nextIndex;
  private int tensor;

  /**
   * Starts decoding the data a manifest announces.
   *
   * @param manifest a manifest; checked with {@link Manifests#checkWellFormed}
   * @throws WireFormatException if the manifest is malformed or a tensor exceeds 2 GiB
   */
  public ParameterDecoder(Manifest manifest) {
    this(manifest, HEAP);
  }

  /**
   * Starts decoding the data a manifest announces into buffers from the given source.
   *
   * @param manifest a manifest; checked with {@link Manifests#checkWellFormed}
   * @param source supplies one buffer per tensor, asked once per tensor in manifest order
   * @throws WireFormatException if the manifest is malformed or a tensor exceeds 2 GiB
   */
  public ParameterDecoder(Manifest manifest, BufferSource source) {
    Manifests.checkWellFormed(manifest);
    this.manifest = manifest;
    this.specs = manifest.getTensorsList();
    for (TensorSpec spec : specs) {
      long bytes = Manifests.fromWire(spec).byteSize();
      for (long dim : spec.getShapeList()) {
        bytes *= dim;
      }
      if (bytes > Integer.MAX_VALUE) {
        throw new WireFormatException(WireError.MALFORMED_MESSAGE,
            "tensor '" + spec.getName() + "' holds " + bytes
            + " bytes; one tensor may hold at most " + Integer.MAX_VALUE);
      }
      ByteBuffer buffer = source.bufferFor(buffers.size(), (int) bytes);
      buffers.add(buffer.slice().limit((int) bytes).order(ByteOrder.LITTLE_ENDIAN));
    }
    skipFullTensors();
  }

  /**
   * Returns the manifest being decoded.
   *
   * @return the manifest
   */
  public Manifest manifest() {
    return manifest;
  }

  /**
   * Returns the number of data bytes received so far.
   *
   * @return the byte count
   */
  public long receivedBytes() {
    return received;
  }

  /**
   * Accepts the next chunk.
   *
   * @param chunk the chunk
   * @throws WireFormatException if the chunk is out of order, duplicated, of the wrong size or
   *     beyond the manifest's total
   */
  public void accept(Chunk chunk) {
    accept(chunk.getIndex(), chunk.getData().asReadOnlyByteBufferList());
  }

  /**
   * Accepts the next chunk, given as its index and its data in pieces (e.g. the receive buffers
   * of a {@link WireFrame}), and copies it into the tensors' buffers.
   *
   * <p>Each piece is handled in blocks of {@value #BLOCK_BYTES} bytes, and each block is
   * checksummed, copied and scanned for non-finite values before the next is touched, so the
   * block is read from memory once and the checksum and the scan read it from cache: one pass
   * per byte instead of three.
   *
   * @param index the chunk's index
   * @param data the chunk's data, from each buffer's position to its limit; read, not kept, and
   *     the buffers' positions are left unchanged
   * @throws WireFormatException if the chunk is out of order, duplicated, of the wrong size or
   *     beyond the manifest's total
   */
  public void accept(long index, List<ByteBuffer> data) {
    if (index != nextIndex) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "expected chunk %d but got chunk %s (chunks must arrive in order, each once)",
          nextIndex, Long.toUnsignedString(index)));
    }
    long size = 0;
    for (ByteBuffer piece : data) {
      size += piece.remaining();
    }
    long left = manifest.getTotalBytes() - received;
    long expected = Math.min(Integer.toUnsignedLong(manifest.getChunkSize()), left);
    if (left == 0) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "chunk %d is beyond the manifest's %d bytes", index, manifest.getTotalBytes()));
    }
    if (size != expected) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "chunk %d holds %d bytes but must hold %d", index, size, expected));
    }
    for (ByteBuffer piece : data) {
      ByteBuffer source = piece.duplicate();
      while (source.hasRemaining()) {
        ByteBuffer target = buffers.get(tensor);
        int n = Math.min(BLOCK_BYTES, Math.min(target.remaining(), source.remaining()));
        ByteBuffer block = source.slice(source.position(), n);
        crc.update(block.duplicate());
        target.put(block);
        source.position(source.position() + n);
        scanWritten();
        skipFullTensors();
      }
    }
    received += size;
    nextIndex++;
  }

  /**
   * Tells whether every byte has arrived.
   *
   * @return true once the last chunk was accepted
   */
  public boolean isComplete() {
    return received == manifest.getTotalBytes();
  }

  /**
   * Completes decoding.
   *
   * @param requireFinite whether floating-point tensors must hold only finite values
   * @return the parameters, in manifest order
   * @throws WireFormatException if bytes are missing, the checksum differs or a value is NaN or
   *     infinite while {@code requireFinite} is set
   * @throws IllegalStateException if called a second time
   */
  public Parameters finish(boolean requireFinite) {
    if (finished) {
      throw new IllegalStateException("finish() was already called; decode the stream again");
    }
    finished = true;
    if (!isComplete()) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "the stream ended after %d of %d bytes (%d chunks)",
          received, manifest.getTotalBytes(), nextIndex));
    }
    if ((int) crc.getValue() != manifest.getCrc32C()) {
      throw new WireFormatException(WireError.CHECKSUM, String.format(
          "checksum mismatch: the manifest says CRC32C %08x but the data has %08x",
          manifest.getCrc32C(), (int) crc.getValue()));
    }
    if (requireFinite && nonFinite != null) {
      throw new WireFormatException(WireError.NON_FINITE, nonFinite);
    }
    List<Tensor> tensors = new ArrayList<>(buffers.size());
    for (int i = 0; i < buffers.size(); i++) {
      TensorSpec spec = manifest.getTensors(i);
      ByteBuffer data = buffers.get(i);
      data.flip();
      DType dtype = Manifests.fromWire(spec);
      long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
      tensors.add(new Tensor(spec.getName(), dtype, shape, data));
    }
    return new Parameters(tensors);
  }

  private void skipFullTensors() {
    while (tensor < buffers.size() && !buffers.get(tensor).hasRemaining()) {
      tensor++;
      scanned = 0;
    }
  }

  /**
   * Scans the elements of the current tensor completed since the last scan for NaN and infinity,
   * while they are still in cache; the first one found is reported by {@link #finish}.
   */
  private void scanWritten() {
    ByteBuffer target = buffers.get(tensor);
    DType dtype = Manifests.fromWire(specs.get(tensor));
    int size = dtype.byteSize();
    int end = target.position() - target.position() % size;
    if (nonFinite == null && end > scanned) {
      ByteBuffer range = target.duplicate().position(scanned).limit(end);
      nonFinite = FiniteScan.describeNonFinite(specs.get(tensor).getName(), dtype, range,
          scanned / size, scanScratch).orElse(null);
    }
    scanned = Math.max(scanned, end);
  }
}
