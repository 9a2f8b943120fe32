package dev.flops.proto.codec;

import com.google.protobuf.ByteString;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import dev.flops.proto.v1.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
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

  private final Manifest manifest;
  private final List<ByteBuffer> buffers = new ArrayList<>();
  private final CRC32C crc = new CRC32C();
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
    Manifests.checkWellFormed(manifest);
    this.manifest = manifest;
    for (TensorSpec spec : manifest.getTensorsList()) {
      long bytes = Manifests.fromWire(spec).byteSize();
      for (long dim : spec.getShapeList()) {
        bytes *= dim;
      }
      if (bytes > Integer.MAX_VALUE) {
        throw new WireFormatException("tensor '" + spec.getName() + "' holds " + bytes
            + " bytes; one tensor may hold at most " + Integer.MAX_VALUE);
      }
      buffers.add(ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN));
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
    if (chunk.getIndex() != nextIndex) {
      throw new WireFormatException(String.format(
          "expected chunk %d but got chunk %d (chunks must arrive in order, each once)",
          nextIndex, chunk.getIndex()));
    }
    ByteString data = chunk.getData();
    long left = manifest.getTotalBytes() - received;
    long expected = Math.min(Integer.toUnsignedLong(manifest.getChunkSize()), left);
    if (left == 0) {
      throw new WireFormatException(String.format(
          "chunk %d is beyond the manifest's %d bytes", chunk.getIndex(), manifest.getTotalBytes()));
    }
    if (data.size() != expected) {
      throw new WireFormatException(String.format(
          "chunk %d holds %d bytes but must hold %d", chunk.getIndex(), data.size(), expected));
    }
    crc.update(data.asReadOnlyByteBuffer());
    int offset = 0;
    while (offset < data.size()) {
      ByteBuffer target = buffers.get(tensor);
      int n = Math.min(target.remaining(), data.size() - offset);
      data.substring(offset, offset + n).copyTo(target);
      offset += n;
      skipFullTensors();
    }
    received += data.size();
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
      throw new WireFormatException(String.format(
          "the stream ended after %d of %d bytes (%d chunks)",
          received, manifest.getTotalBytes(), nextIndex));
    }
    if ((int) crc.getValue() != manifest.getCrc32C()) {
      throw new WireFormatException(String.format(
          "checksum mismatch: the manifest says CRC32C %08x but the data has %08x",
          manifest.getCrc32C(), (int) crc.getValue()));
    }
    List<Tensor> tensors = new ArrayList<>(buffers.size());
    for (int i = 0; i < buffers.size(); i++) {
      TensorSpec spec = manifest.getTensors(i);
      ByteBuffer data = buffers.get(i);
      data.flip();
      DType dtype = Manifests.fromWire(spec);
      if (requireFinite) {
        checkFinite(spec.getName(), dtype, data);
      }
      long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
      tensors.add(new Tensor(spec.getName(), dtype, shape, data));
    }
    return new Parameters(tensors);
  }

  private void skipFullTensors() {
    while (tensor < buffers.size() && !buffers.get(tensor).hasRemaining()) {
      tensor++;
    }
  }

  private static void checkFinite(String name, DType dtype, ByteBuffer data) {
    if (dtype == DType.FLOAT32) {
      FloatBuffer floats = data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      for (int i = 0; i < floats.limit(); i++) {
        if (!Float.isFinite(floats.get(i))) {
          throw new WireFormatException(String.format(
              "tensor '%s' holds a non-finite value (%s) at element %d", name, floats.get(i), i));
        }
      }
    } else if (dtype == DType.FLOAT64) {
      DoubleBuffer doubles = data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
      for (int i = 0; i < doubles.limit(); i++) {
        if (!Double.isFinite(doubles.get(i))) {
          throw new WireFormatException(String.format(
              "tensor '%s' holds a non-finite value (%s) at element %d", name, doubles.get(i), i));
        }
      }
    }
  }
}
