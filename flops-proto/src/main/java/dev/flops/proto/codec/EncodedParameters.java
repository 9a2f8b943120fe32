package dev.flops.proto.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.proto.v1.Chunk;
import dev.flops.proto.v1.Manifest;
import java.nio.ByteBuffer;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * Parameters serialised for the wire: a manifest and the data in chunks. Encode once and send the
 * same chunks to every learner.
 *
 * <p>A chunk is cut from the (immutable) tensors when it is asked for, never kept: the encoded
 * form holds no copy of the model, only the parameters it was made from, and a download or upload
 * in progress holds one chunk at a time. (Protobuf copies any buffer it cannot wrap as an array,
 * and tensors are read-only views, so wrapping them up front would copy the whole model.)
 */
public final class EncodedParameters {
  private final Manifest manifest;
  private final Parameters parameters;
  /** Byte offset of each tensor's first byte in the concatenated data, plus the total at the end. */
  private final long[] offsets;
  private final int chunkCount;
  private final List<ByteString> chunks;

  private EncodedParameters(Manifest manifest, Parameters parameters) {
    this.manifest = manifest;
    this.parameters = parameters;
    this.offsets = new long[parameters.size() + 1];
    for (int t = 0; t < parameters.size(); t++) {
      offsets[t + 1] = offsets[t] + parameters.tensors().get(t).byteSize();
    }
    long size = Integer.toUnsignedLong(manifest.getChunkSize());
    this.chunkCount = Math.toIntExact((manifest.getTotalBytes() + size - 1) / size);
    this.chunks = new AbstractList<>() {
      @Override
      public ByteString get(int index) {
        return chunkData(index);
      }

      @Override
      public int size() {
        return chunkCount;
      }
    };
  }

  /**
   * Returns the manifest.
   *
   * @return names, dtypes, shapes, total bytes, CRC32C and chunk size
   */
  public Manifest manifest() {
    return manifest;
  }

  /**
   * Returns the parameters these were encoded from (chunks are cut from their tensors).
   *
   * @return the parameters
   */
  public Parameters parameters() {
    return parameters;
  }

  /**
   * Returns the data chunks: the tensors' bytes, concatenated in manifest order and cut into chunks
   * of {@code manifest().getChunkSize()} bytes (the last may be shorter). Each {@code get} cuts a
   * fresh copy of that chunk.
   *
   * @return an unmodifiable list view
   */
  public List<ByteString> chunks() {
    return chunks;
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
    for (Tensor tensor : parameters) {
      crc.update(tensor.data());
    }
    Manifest manifest = Manifests.describe(parameters).toBuilder()
        .setCrc32C((int) crc.getValue())
        .setChunkSize(chunkSize)
        .build();
    return new EncodedParameters(manifest, parameters);
  }

  /** Copies chunk {@code index} out of the tensors it spans. */
  private ByteString chunkData(int index) {
    List<ByteBuffer> views = chunkViews(index);
    int size = 0;
    for (ByteBuffer view : views) {
      size += view.remaining();
    }
    byte[] bytes = new byte[size];
    int filled = 0;
    for (ByteBuffer view : views) {
      int n = view.remaining();
      view.get(bytes, filled, n);
      filled += n;
    }
    return UnsafeByteOperations.unsafeWrap(bytes);
  }

  /**
   * Returns chunk {@code index}'s data as read-only views of the tensors it spans, without
   * copying: what a sender hands to {@link WireFrame#outgoing}. The views are borrowed: they see
   * the tensors' buffers, which must not change while the views are in use.
   *
   * @param index the chunk's position
   * @return one view per tensor the chunk spans (empty tensors contribute none), in order
   * @throws IndexOutOfBoundsException if there is no such chunk
   */
  public List<ByteBuffer> chunkViews(int index) {
    Objects.checkIndex(index, chunkCount);
    long size = Integer.toUnsignedLong(manifest.getChunkSize());
    long start = index * size;
    long end = Math.min(start + size, offsets[offsets.length - 1]);
    int tensor = Arrays.binarySearch(offsets, start);
    tensor = tensor >= 0 ? tensor : -tensor - 2;
    List<ByteBuffer> views = new ArrayList<>(2);
    long position = start;
    while (position < end) {
      if (position >= offsets[tensor + 1]) {
        tensor++;
        continue;
      }
      ByteBuffer data = parameters.tensors().get(tensor).data();
      int from = (int) (position - offsets[tensor]);
      int n = (int) Math.min(data.limit() - from, end - position);
      views.add(data.slice(from, n).asReadOnlyBuffer());
      position += n;
    }
    return views;
  }

  /**
   * Returns chunk {@code index} as a protocol message.
   *
   * @param index the chunk's position
   * @return the chunk message
   */
  public Chunk chunk(int index) {
    return Chunk.newBuilder().setIndex(index).setData(chunkData(index)).build();
  }
}
