package dev.flops.aggregator.internal.tracking;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The little YAML that MLflow's files need, written the way MLflow writes them (PyYAML's
 * {@code safe_dump} with {@code default_flow_style=False} and sorted keys): block mappings, block
 * sequences, {@code []} for an empty list, plain scalars where PyYAML would leave them plain and
 * single quotes elsewhere (e.g. {@code experiment_id: '123'}); and a reader for the flat
 * {@code meta.yaml} files.
 */
final class Yaml {
  private Yaml() {}

  /**
   * Strings that PyYAML's implicit resolvers (YAML 1.1: bool, float, int, merge, null, timestamp,
   * value, yaml; {@code yaml/resolver.py}) read as something other than a string, so that
   * {@code safe_dump} quotes them: exactly those, no more (a run id such as {@code 0b8b47...} is
   * no binary number, and MLflow leaves it plain).
   */
  private static final Pattern NOT_A_STRING = Pattern.compile(String.join("|",
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
      "[-+]?[0-9][0-9_]*\\.[0-9_]*(?:[eE][-+][0-9]+)?",
      "\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
      "[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*",
      "[-+]?\\.(?:inf|Inf|INF)",
      "\\.(?:nan|NaN|NAN)",
      "[-+]?0b[0-1_]+",
      "[-+]?0[0-7_]+",
      "[-+]?(?:0|[1-9][0-9_]*)",
      "[-+]?0x[0-9a-fA-F_]+",
      "[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
      "<<",
      "~|null|Null|NULL|",
      "[0-9]{4}-[0-9]{2}-[0-9]{2}",
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]*)?"
          + "(?:[ \\t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
      "=",
      "!|&|\\*"));
  /** First characters that make PyYAML quote a scalar. */
  private static final String INDICATORS = ",[]{}#&*!|>'\"%@`";
  /** First characters that make it quote a scalar only when whitespace or the end follows. */
  private static final String INDICATORS_BEFORE_SPACE = "-?:";

  /** Writes a mapping with its keys sorted, nested maps and lists included. */
  static String dump(Map<String, ?> mapping) {
    StringBuilder out = new StringBuilder();
    writeMapping(out, mapping, 0);
    return out.toString();
  }

  private static void writeMapping(StringBuilder out, Map<String, ?> mapping, int indent) {
    for (Map.Entry<String, ?> entry : new TreeMap<>(mapping).entrySet()) {
      out.append(" ".repeat(indent)).append(scalar(entry.getKey())).append(':');
      writeValue(out, entry.getValue(), indent);
    }
  }

  private static void writeValue(StringBuilder out, Object value, int indent) {
    if (value instanceof Map<?, ?> map && !map.isEmpty()) {
      out.append('\n');
      @SuppressWarnings("unchecked")
      Map<String, ?> nested = (Map<String, ?>) map;
      writeMapping(out, nested, indent + 2);
    } else if (value instanceof List<?> list && !list.isEmpty()) {
      out.append('\n');
      for (Object item : list) {
        out.append(" ".repeat(indent)).append("- ").append(scalar(item)).append('\n');
      }
    } else if (value instanceof Map<?, ?>) {
      out.append(" {}\n");
    } else if (value instanceof List<?>) {
      out.append(" []\n");
    } else {
      out.append(' ').append(scalar(value)).append('\n');
    }
  }

  static String scalar(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Boolean b) {
      return b ? "true" : "false";
    }
    if (value instanceof Integer || value instanceof Long) {
      return value.toString();
    }
    if (value instanceof Double || value instanceof Float) {
      double d = ((Number) value).doubleValue();
      if (Double.isNaN(d)) {
        return ".nan";
      }
      if (Double.isInfinite(d)) {
        return d > 0 ? ".inf" : "-.inf";
      }
      return PyFloat.format(d);
    }
    String s = value.toString();
    return isPlain(s) ? s : "'" + s.replace("'", "''") + "'";
  }

  private static boolean isPlain(String s) {
    if (s.isEmpty() || NOT_A_STRING.matcher(s).matches()) {
      return false;
    }
    char first = s.charAt(0);
    if (INDICATORS.indexOf(first) >= 0 || (INDICATORS_BEFORE_SPACE.indexOf(first) >= 0
        && (s.length() == 1 || Character.isWhitespace(s.charAt(1))))
        || s.startsWith("---") || s.startsWith("...") || Character.isWhitespace(first)
        || Character.isWhitespace(s.charAt(s.length() - 1)) || s.endsWith(":")) {
      return false;
    }
    if (s.contains(": ") || s.contains(" #") || s.contains("\t")) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\u0085' || c == '\u2028' || c == '\u2029'
          || c == '\ufeff') {
        return false;
      }
    }
    return true;
  }

  /**
   * Reads a flat mapping of scalars (what MLflow's meta.yaml files hold), unquoting quoted
   * scalars and joining PyYAML's folded continuation lines. {@code null} and {@code []} come back
   * as null and an empty list.
   */
  static Map<String, Object> readFlat(String text) {
    Map<String, Object> result = new LinkedHashMap<>();
    String key = null;
    StringBuilder raw = null;
    for (String line : text.split("\n", -1)) {
      if (line.isBlank()) {
        continue;
      }
      if (Character.isWhitespace(line.charAt(0)) && key != null) {
        raw.append(' ').append(line.strip());
        continue;
      }
      if (key != null) {
        result.put(key, unquote(raw.toString()));
      }
      int colon = line.indexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException("not a key: value line: " + line);
      }
      key = line.substring(0, colon).strip();
      raw = new StringBuilder(line.substring(colon + 1).strip());
    }
    if (key != null) {
      result.put(key, unquote(raw.toString()));
    }
    return result;
  }

  private static Object unquote(String raw) {
    if (raw.equals("null") || raw.equals("~") || raw.isEmpty()) {
      return null;
    }
    if (raw.equals("[]")) {
      return new ArrayList<>();
    }
    if (raw.length() >= 2 && raw.startsWith("'") && raw.endsWith("'")) {
      return raw.substring(1, raw.length() - 1).replace("''", "'");
    }
    if (raw.length() >= 2 && raw.startsWith("\"") && raw.endsWith("\"")) {
      return raw.substring(1, raw.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\");
    }
    return raw;
  }
}
