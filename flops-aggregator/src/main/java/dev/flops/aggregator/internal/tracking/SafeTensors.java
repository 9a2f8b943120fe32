package dev.flops.aggregator.internal.tracking;

import com.google.gson.Gson;
import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes parameters in the safetensors format (https://github.com/huggingface/safetensors), the
 * documented named-tensor format flops uses for models that cannot save themselves: an 8-byte
 * little-endian header length N, N bytes of JSON header mapping each tensor name to {@code
 * {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}} (offsets relative to the data
 * section; optional {@code "__metadata__"} of strings), padded with spaces to a multiple of 8, then
 * the little-endian data of every tensor in header order.
 */
final class SafeTensors {
  private SafeTensors() {}

  static final String FILE_NAME = "model.safetensors";

  static void write(Parameters parameters, Map<String, String> metadata, Path file)
      throws IOException {
    Map<String, Object> header = new LinkedHashMap<>();
    if (!metadata.isEmpty()) {
      header.put("__metadata__", metadata);
    }
    long offset = 0;
    for (Tensor tensor : parameters) {
      long end = offset + tensor.byteSize();
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", dtype(tensor.dtype()));
      entry.put("shape", tensor.shape());
      entry.put("data_offsets", List.of(offset, end));
      header.put(tensor.name(), entry);
      offset = end;
    }
    StringBuilder json = new StringBuilder(new Gson().toJson(header));
    while (json.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
      json.append(' ');
    }
    byte[] headerBytes = json.toString().getBytes(StandardCharsets.UTF_8);
    try (OutputStream out = Files.newOutputStream(file);
        WritableByteChannel channel = Channels.newChannel(out)) {
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
          .putLong(headerBytes.length);
      length.flip();
      channel.write(length);
      channel.write(ByteBuffer.wrap(headerBytes));
      for (Tensor tensor : parameters) {
        ByteBuffer data = tensor.data();
        while (data.hasRemaining()) {
          channel.write(data);
        }
      }
    }
  }

  static String dtype(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> "F32";
      case FLOAT64 -> "F64";
      case INT32 -> "I32";
      case INT64 -> "I64";
    };
  }
}
