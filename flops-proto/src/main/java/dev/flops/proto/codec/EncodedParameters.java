package dev.flops.proto.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Parameters serialised for the wire: a manifest and the data in chunks. Encode once and send the
 * same chunks to every learner; the chunks are immutable views of the parameters' own bytes
 * (tensors are immutable), so encoding allocates no copy of the model.
 *
 * @param manifest names, dtypes, shapes, total bytes, CRC32C and chunk size
 * @param chunks the data, concatenated in manifest order and cut into chunks of
 *     {@code manifest.getChunkSize()} bytes (the last may be shorter)
 */
public record EncodedParameters(Manifest manifest, List<ByteString> chunks) {

  /**
   * Wraps a manifest and its chunks.
   *
   * @throws NullPointerException if an argument is null
   */
  public EncodedParameters {
    chunks = List.copyOf(chunks);
    java.util.Objects.requireNonNull(manifest, "manifest");
  }

  /**
   * Encodes parameters in chunks of the protocol's largest size, 4 MiB.
   *
   * @param parameters the parameters
   * @return the encoded form
   */
  public static EncodedParameters encode(Parameters parameters) {
    return encode(parameters, WireProtocol.DEFAULT_CHUNK_BYTES);
  }

  /**
   * Encodes parameters.
   *
   * @param parameters the parameters
   * @param chunkSize bytes per chunk, from 1 to {@link WireProtocol#MAX_CHUNK_BYTES}
   * @return the encoded form
   * @throws IllegalArgumentException if the chunk size is out of range
   */
  public static EncodedParameters encode(Parameters parameters, int chunkSize) {
    if (chunkSize < 1 || chunkSize > WireProtocol.MAX_CHUNK_BYTES) {
      throw new IllegalArgumentException(String.format(
          "chunkSize must be in [1, %d] but was %d", WireProtocol.MAX_CHUNK_BYTES, chunkSize));
    }
    CRC32C crc = new CRC32C();
    List<ByteString> chunks = new ArrayList<>();
    // A chunk that lies inside one tensor wraps that tensor's (immutable) bytes without copying, so
    // encoding a multi-gigabyte model costs no second copy of it; only a chunk that straddles two
    // tensors is assembled into its own small array.
    List<ByteString> pieces = new ArrayList<>();
    int pending = 0;
    for (Tensor tensor : parameters) {
      ByteBuffer data = tensor.data();
      crc.update(data.duplicate());
      while (data.hasRemaining()) {
        int n = Math.min(data.remaining(), chunkSize - pending);
        ByteBuffer piece = data.slice().limit(n);
        data.position(data.position() + n);
        pieces.add(UnsafeByteOperations.unsafeWrap(piece));
        pending += n;
        if (pending == chunkSize) {
          chunks.add(join(pieces));
          pieces.clear();
          pending = 0;
        }
      }
    }
    if (pending > 0) {
      chunks.add(join(pieces));
    }
    Manifest manifest = Manifests.describe(parameters).toBuilder()
        .setCrc32C((int) crc.getValue())
        .setChunkSize(chunkSize)
        .build();
    return new EncodedParameters(manifest, Collections.unmodifiableList(chunks));
  }

  private static ByteString join(List<ByteString> pieces) {
    return pieces.size() == 1 ? pieces.get(0) : ByteString.copyFrom(pieces);
  }

  /**
   * Returns chunk {@code index} as a protocol message.
   *
   * @param index the chunk's position
   * @return the chunk message
   */
  public Chunk chunk(int index) {
    return Chunk.newBuilder().setIndex(index).setData(chunks.get(index)).build();
  }
}
