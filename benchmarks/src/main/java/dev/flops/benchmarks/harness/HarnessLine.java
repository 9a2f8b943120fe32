package dev.flops.benchmarks.harness;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The lines the harness's child processes print for it on standard output:
 * {@code HARNESS <event> key=value key=value ...}, values without spaces. Everything else in their
 * output is log text, which the harness copies to the log files.
 */
record HarnessLine(String event, Map<String, String> fields) {
  static final String PREFIX = "HARNESS ";

  HarnessLine {
    fields = Map.copyOf(fields);
  }

  /** Formats an event line; values must not contain spaces. */
  static String format(String event, Map<String, ?> fields) {
    StringBuilder line = new StringBuilder(PREFIX).append(event);
    fields.forEach((key, value) -> {
      String text = String.valueOf(value);
      if (text.isEmpty() || text.contains(" ")) {
        throw new IllegalArgumentException("harness field " + key + " must be one word: " + text);
      }
      line.append(' ').append(key).append('=').append(text);
    });
    return line.toString();
  }

  /** Parses a line, or returns empty if it is not a harness line. */
  static Optional<HarnessLine> parse(String line) {
    if (!line.startsWith(PREFIX)) {
      return Optional.empty();
    }
    String[] words = line.substring(PREFIX.length()).trim().split("\\s+");
    Map<String, String> fields = new LinkedHashMap<>();
    for (int i = 1; i < words.length; i++) {
      int eq = words[i].indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("malformed harness field '" + words[i] + "' in: " + line);
      }
      fields.put(words[i].substring(0, eq), words[i].substring(eq + 1));
    }
    return Optional.of(new HarnessLine(words[0], fields));
  }

  String get(String key) {
    String value = fields.get(key);
    if (value == null) {
      throw new IllegalArgumentException("harness line '" + event + "' lacks " + key + ": " + fields);
    }
    return value;
  }

  double getDouble(String key) {
    return Double.parseDouble(get(key));
  }

  int getInt(String key) {
    return Integer.parseInt(get(key));
  }
}
