package dev.flops.proto.codec;

import com.google.protobuf.ByteString;
import dev.flops.api.Parameters;
import dev.flops.proto.v1.InlineTensors;
import dev.flops.proto.v1.Manifest;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Parameters carried whole in one control-stream message ({@code InlineTensors}, {@code
 * InlineUpdate}) instead of a DownloadParameters or UploadUpdate call: for small models, whose
 * round is dominated by the two calls' set-up (HTTP/2 headers, call state on both sides), not by
 * their bytes (benchmarks/README.md, "Inline transfers").
 *
 * <p>The inline form is checked exactly like a streamed one: the data is fed, cut at the
 * manifest's chunk size, through the same {@link ParameterDecoder} (well-formed manifest, sizes,
 * CRC32C, finite scan), so that no check depends on how the data travelled.
 */
public final class InlineParameters {
  /**
   * The most data bytes a message may carry inline: one chunk's worth, so that an inline message
   * fits the same gRPC message limit ({@link WireProtocol#MAX_MESSAGE_BYTES}) as a chunk message.
   */
  public static final int MAX_INLINE_BYTES = WireProtocol.MAX_CHUNK_BYTES;

  private InlineParameters() {}

  /**
   * Puts encoded parameters into one message.
   *
   * @param encoded parameters of at most {@link #MAX_INLINE_BYTES} data bytes
   * @return the manifest and all the data (one copy of the tensors' bytes)
   * @throws IllegalArgumentException if the parameters are larger than {@link #MAX_INLINE_BYTES}
   */
  public static InlineTensors encode(EncodedParameters encoded) {
    return InlineTensors.newBuilder()
        .setManifest(encoded.manifest())
        .setData(data(encoded))
        .build();
  }

  /**
   * Returns the concatenated data of encoded parameters, for an inline message.
   *
   * @param encoded parameters of at most {@link #MAX_INLINE_BYTES} data bytes
   * @return the tensors' bytes in manifest order
   * @throws IllegalArgumentException if the parameters are larger than {@link #MAX_INLINE_BYTES}
   */
  public static ByteString data(EncodedParameters encoded) {
    long total = encoded.manifest().getTotalBytes();
    if (total > MAX_INLINE_BYTES) {
      throw new IllegalArgumentException(String.format(
          "parameters of %d bytes cannot travel inline; at most %d bytes can", total,
          MAX_INLINE_BYTES));
    }
    return ByteString.copyFrom(encoded.chunks());
  }

  /**
   * Decodes and validates inline parameters.
   *
   * @param manifest the manifest the sender declared
   * @param data all the data, {@code manifest.total_bytes} of it
   * @param source where the tensors are decoded into
   * @return the parameters
   * @throws WireFormatException with {@link WireError#MALFORMED_MESSAGE} if the manifest is
   *     malformed or the data's size is not the manifest's total, {@link WireError#CHECKSUM} or
   *     {@link WireError#NON_FINITE} as {@link ParameterDecoder#finish} says
   */
  public static Parameters decode(Manifest manifest, ByteString data,
      ParameterDecoder.BufferSource source) {
    if (data.size() != manifest.getTotalBytes()) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE, String.format(
          "the inline data holds %d bytes but its manifest announces %d", data.size(),
          manifest.getTotalBytes()));
    }
    ParameterDecoder decoder = new ParameterDecoder(manifest, source);
    int chunkSize = manifest.getChunkSize(); // at least 1 and at most 4 MiB: checked above
    long index = 0;
    for (int start = 0; start < data.size(); start += chunkSize) {
      ByteString chunk = data.substring(start, Math.min(data.size(), start + chunkSize));
      decoder.accept(index++, List.<ByteBuffer>of(chunk.asReadOnlyByteBuffer()));
    }
    return decoder.finish(true);
  }
}
