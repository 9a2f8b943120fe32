package dev.flops.api.io;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes parameters as a named-tensor file in the <a
 * href="https://github.com/huggingface/safetensors">safetensors</a> format: the file {@code
 * model.safetensors} that flops's MLflow tracking logs as the best model of a run (for a model
 * that does not save itself in a format of its own), and that Python's {@code safetensors} and
 * numpy read too.
 *
 * <table>
 *   <caption>Layout</caption>
 *   <tr><th>bytes</th><th>content</th></tr>
 *   <tr><td>8</td><td>N, the header's length, an unsigned little-endian 64-bit integer</td></tr>
 *   <tr><td>N</td><td>a UTF-8 JSON object: each tensor's name mapped to {@code {"dtype": "F32",
 *       "shape": [30, 20], "data_offsets": [begin, end]}} (offsets in bytes from the start of the
 *       data section), plus an optional {@code "__metadata__"} object of strings; flops pads it
 *       with spaces to a multiple of 8 bytes</td></tr>
 *   <tr><td>rest</td><td>the data section: each tensor's elements, little-endian, row-major (C)
 *       order, one after another without gaps</td></tr>
 * </table>
 *
 * <p>Element types: {@code F32}, {@code F64}, {@code I32}, {@code I64} ({@link DType}); a file
 * holding others (e.g. {@code F16}) is refused with its name. Tensors come back in the order of
 * their data in the file, which is the order flops wrote them in. Stateless and thread-safe.
 *
 * <pre>{@code
 * Parameters best = NamedTensorFile.read(Path.of("model.safetensors"));
 * float[] weights = best.get("dense_W").toFloatArray();
 * }</pre>
 */
public final class NamedTensorFile {
  /** The file name flops's tracking gives the model file in a run's {@code model/} artifacts. */
  public static final String FILE_NAME = "model.safetensors";
  private static final long MAX_HEADER_BYTES = 100L << 20;
  private static final String METADATA = "__metadata__";

  private NamedTensorFile() {}

  /**
   * Reads every tensor of a file.
   *
   * @param file a safetensors file, e.g. a run's {@code artifacts/model/model.safetensors}
   * @return the tensors, in the order of their data
   * @throws IOException if the file cannot be read, or is not a valid safetensors file of
   *     supported types (the message names the file, the tensor and what is wrong)
   */
  public static Parameters read(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      Header header = readHeader(channel, file);
      List<Tensor> tensors = new ArrayList<>(header.entries.size());
      long expectedBegin = 0;
      for (Entry entry : header.entries) {
        if (entry.begin != expectedBegin) {
          throw invalid(file, "tensor '" + entry.name + "' starts at data offset " + entry.begin
              + " but the previous tensor ends at " + expectedBegin + " (gap or overlap)");
        }
        long size = entry.end - entry.begin;
        ByteBuffer data = ByteBuffer.allocate(Math.toIntExact(size)).order(ByteOrder.LITTLE_ENDIAN);
        long position = header.dataStart + entry.begin;
        while (data.hasRemaining()) {
          int n = channel.read(data, position + data.position());
          if (n < 0) {
            throw invalid(file, "the file ends inside tensor '" + entry.name + "'");
          }
        }
        data.flip();
        try {
          tensors.add(new Tensor(entry.name, entry.dtype, entry.shape, data));
        } catch (IllegalArgumentException e) {
          throw invalid(file, e.getMessage());
        }
        expectedBegin = entry.end;
      }
      if (header.dataStart + expectedBegin != channel.size()) {
        throw invalid(file, "the tensors' data ends at byte " + (header.dataStart + expectedBegin)
            + " but the file has " + channel.size() + " bytes");
      }
      return new Parameters(tensors);
    }
  }

  /**
   * Reads a file's {@code __metadata__} (flops writes the producer and the best round).
   *
   * @param file a safetensors file
   * @return the metadata, empty if the file has none
   * @throws IOException if the file cannot be read or its header is invalid
   */
  public static Map<String, String> readMetadata(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      return readHeader(channel, file).metadata;
    }
  }

  /**
   * Writes parameters as a safetensors file, replacing any file there.
   *
   * @param parameters the tensors, written in their order
   * @param metadata strings for the header's {@code __metadata__}; may be empty
   * @param file where to write
   * @throws IOException if the file cannot be written
   */
  public static void write(Parameters parameters, Map<String, String> metadata, Path file)
      throws IOException {
    Objects.requireNonNull(parameters, "parameters");
    Objects.requireNonNull(metadata, "metadata");
    StringBuilder json = new StringBuilder("{");
    if (!metadata.isEmpty()) {
      json.append(quote(METADATA)).append(":{");
      String separator = "";
      for (Map.Entry<String, String> e : metadata.entrySet()) {
        json.append(separator).append(quote(e.getKey())).append(':').append(quote(e.getValue()));
        separator = ",";
      }
      json.append('}');
    }
    long offset = 0;
    for (Tensor tensor : parameters) {
      long end = offset + tensor.byteSize();
      json.append(json.length() > 1 ? "," : "").append(quote(tensor.name()))
          .append(":{\"dtype\":\"").append(code(tensor.dtype())).append("\",\"shape\":[");
      long[] shape = tensor.shape();
      for (int i = 0; i < shape.length; i++) {
        json.append(i == 0 ? "" : ",").append(shape[i]);
      }
      json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
      offset = end;
    }
    json.append('}');
    byte[] headerBytes = json.toString().getBytes(StandardCharsets.UTF_8);
    int padding = (8 - headerBytes.length % 8) % 8;
    ByteBuffer head = ByteBuffer.allocate(8 + headerBytes.length + padding)
        .order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(headerBytes.length + padding).put(headerBytes);
    for (int i = 0; i < padding; i++) {
      head.put((byte) ' ');
    }
    head.flip();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      while (head.hasRemaining()) {
        channel.write(head);
      }
      for (Tensor tensor : parameters) {
        ByteBuffer data = tensor.data();
        while (data.hasRemaining()) {
          channel.write(data);
        }
      }
    }
  }

  /**
   * The safetensors code of an element type.
   *
   * @param dtype the element type
   * @return {@code F32}, {@code F64}, {@code I32} or {@code I64}
   */
  public static String code(DType dtype) {
    return switch (Objects.requireNonNull(dtype, "dtype")) {
      case FLOAT32 -> "F32";
      case FLOAT64 -> "F64";
      case INT32 -> "I32";
      case INT64 -> "I64";
    };
  }

  private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

  private record Header(List<Entry> entries, Map<String, String> metadata, long dataStart) {}

  private static Header readHeader(FileChannel channel, Path file) throws IOException {
    if (channel.size() < 8) {
      throw invalid(file, "it has " + channel.size() + " bytes, fewer than the 8-byte header "
          + "length");
    }
    ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    while (length.hasRemaining() && channel.read(length, length.position()) >= 0) {
      // reads the 8 bytes
    }
    long headerLength = length.flip().getLong();
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > channel.size() - 8) {
      throw invalid(file, "its header length " + Long.toUnsignedString(headerLength)
          + " is not between 2 and min(" + MAX_HEADER_BYTES + ", file size - 8)");
    }
    ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
    while (headerBytes.hasRemaining()
        && channel.read(headerBytes, 8 + headerBytes.position()) >= 0) {
      // reads the header
    }
    Object parsed;
    try {
      parsed = new Json(new String(headerBytes.array(), StandardCharsets.UTF_8)).parseDocument();
    } catch (IllegalArgumentException e) {
      throw invalid(file, "its header is not JSON: " + e.getMessage());
    }
    if (!(parsed instanceof Map<?, ?> map)) {
      throw invalid(file, "its header is not a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      String name = (String) e.getKey();
      if (name.equals(METADATA)) {
        if (e.getValue() instanceof Map<?, ?> meta) {
          meta.forEach((k, v) -> metadata.put((String) k, String.valueOf(v)));
        }
        continue;
      }
      entries.add(entry(file, name, e.getValue()));
    }
    entries.sort(Comparator.comparingLong(Entry::begin));
    return new Header(entries, metadata, 8 + headerLength);
  }

  private static Entry entry(Path file, String name, Object value) throws IOException {
    if (!(value instanceof Map<?, ?> fields) || !(fields.get("dtype") instanceof String code)
        || !(fields.get("shape") instanceof List<?> shapeList)
        || !(fields.get("data_offsets") instanceof List<?> offsets) || offsets.size() != 2) {
      throw invalid(file, "tensor '" + name + "' needs \"dtype\", \"shape\" and two "
          + "\"data_offsets\"");
    }
    DType dtype = switch (code) {
      case "F32" -> DType.FLOAT32;
      case "F64" -> DType.FLOAT64;
      case "I32" -> DType.INT32;
      case "I64" -> DType.INT64;
      default -> throw invalid(file, "tensor '" + name + "' has dtype " + code
          + ", which flops does not read (F32, F64, I32, I64); convert it first");
    };
    long[] shape = new long[shapeList.size()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = integer(file, name, shapeList.get(i));
    }
    long begin = integer(file, name, offsets.get(0));
    long end = integer(file, name, offsets.get(1));
    if (begin < 0 || end < begin || end - begin > Integer.MAX_VALUE) {
      throw invalid(file, "tensor '" + name + "' has data_offsets [" + begin + ", " + end + "]");
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  private static long integer(Path file, String name, Object value) throws IOException {
    if (value instanceof Double d && d == Math.rint(d) && d >= 0 && d < 1e18) {
      return d.longValue();
    }
    throw invalid(file, "tensor '" + name + "' has " + value + " where a whole number >= 0 "
        + "belongs");
  }

  private static IOException invalid(Path file, String what) {
    return new IOException("the named-tensor file " + file + " is not a valid safetensors file: "
        + what);
  }

  private static String quote(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }

  /** The JSON a safetensors header needs: objects (in order), arrays, strings, numbers, literals. */
  private static final class Json {
    private final String text;
    private int at;

    Json(String text) {
      this.text = text;
    }

    Object parseDocument() {
      Object value = value();
      skipSpace();
      if (at != text.length()) {
        throw error("unexpected text after the JSON value");
      }
      return value;
    }

    private Object value() {
      skipSpace();
      if (at >= text.length()) {
        throw error("unexpected end");
      }
      char c = text.charAt(at);
      if (c == '{') {
        at++;
        Map<String, Object> map = new LinkedHashMap<>();
        skipSpace();
        if (peek('}')) {
          return map;
        }
        do {
          skipSpace();
          String key = string();
          skipSpace();
          expect(':');
          map.put(key, value());
          skipSpace();
        } while (consume(','));
        expect('}');
        return map;
      }
      if (c == '[') {
        at++;
        List<Object> list = new ArrayList<>();
        skipSpace();
        if (peek(']')) {
          return list;
        }
        do {
          list.add(value());
          skipSpace();
        } while (consume(','));
        expect(']');
        return list;
      }
      if (c == '"') {
        return string();
      }
      for (String literal : List.of("true", "false", "null")) {
        if (text.startsWith(literal, at)) {
          at += literal.length();
          return literal.equals("null") ? null : Boolean.valueOf(literal);
        }
      }
      int start = at;
      while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
        at++;
      }
      if (start == at) {
        throw error("unexpected character '" + c + "'");
      }
      try {
        return Double.valueOf(text.substring(start, at));
      } catch (NumberFormatException e) {
        throw error("bad number " + text.substring(start, at));
      }
    }

    private String string() {
      expect('"');
      StringBuilder out = new StringBuilder();
      while (at < text.length()) {
        char c = text.charAt(at++);
        if (c == '"') {
          return out.toString();
        }
        if (c == '\\') {
          if (at >= text.length()) {
            break;
          }
          char e = text.charAt(at++);
          switch (e) {
            case 'n' -> out.append('\n');
            case 't' -> out.append('\t');
            case 'r' -> out.append('\r');
            case 'b' -> out.append('\b');
            case 'f' -> out.append('\f');
            case 'u' -> {
              if (at + 4 > text.length()) {
                throw error("bad \\u escape");
              }
              out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
              at += 4;
            }
            default -> out.append(e);
          }
        } else {
          out.append(c);
        }
      }
      throw error("unterminated string");
    }

    private void skipSpace() {
      while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
        at++;
      }
    }

    private boolean peek(char c) {
      if (at < text.length() && text.charAt(at) == c) {
        at++;
        return true;
      }
      return false;
    }

    private boolean consume(char c) {
      return peek(c);
    }

    private void expect(char c) {
      if (!peek(c)) {
        throw error("expected '" + c + "'");
      }
    }

    private IllegalArgumentException error(String message) {
      return new IllegalArgumentException(message + " at character " + at);
    }
  }
}
