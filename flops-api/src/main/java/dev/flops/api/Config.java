package dev.flops.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The configuration of one task of a round, sent by the aggregator to a learner: a map from names
 * to scalars. A scalar is a {@link Boolean}, a {@link Long}, a {@link Double} or a {@link String};
 * {@link Integer}, {@link Short} and {@link Byte} values are stored as {@code Long} and
 * {@link Float} values as {@code Double}.
 *
 * <pre>{@code
 * Config config = Config.of("local_epochs", 2, "learning_rate", 1e-3);
 * int epochs = config.getInt("local_epochs", 1);
 * }</pre>
 *
 * @param values the entries; copied, and sorted by name
 */
public record Config(Map<String, Object> values) {

  private static final Config EMPTY = new Config(Map.of());

  /**
   * Validates and normalises the entries.
   *
   * @throws NullPointerException if the map, a key or a value is null
   * @throws IllegalArgumentException if a key is blank or a value is not a scalar
   */
  public Config {
    Objects.requireNonNull(values, "values");
    Map<String, Object> copy = new TreeMap<>();
    for (Map.Entry<String, Object> entry : values.entrySet()) {
      String key = Objects.requireNonNull(entry.getKey(), "config key");
      if (key.isBlank()) {
        throw new IllegalArgumentException("config keys must not be blank");
      }
      copy.put(key, normalise(key, entry.getValue()));
    }
    values = Collections.unmodifiableMap(copy);
  }

  /**
   * Returns the empty configuration.
   *
   * @return a config without entries
   */
  public static Config empty() {
    return EMPTY;
  }

  /**
   * Creates a configuration from alternating keys and values.
   *
   * @param keysAndValues key1, value1, key2, value2, ...
   * @return the configuration
   * @throws IllegalArgumentException if the count is odd, a key is not a string or a value is not a
   *     scalar
   */
  public static Config of(Object... keysAndValues) {
    if (keysAndValues.length % 2 != 0) {
      throw new IllegalArgumentException(
          "Config.of takes key, value pairs but got " + keysAndValues.length + " arguments");
    }
    Map<String, Object> map = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      if (!(keysAndValues[i] instanceof String key)) {
        throw new IllegalArgumentException(
            "Config.of: argument " + i + " must be a String key but is " + keysAndValues[i]);
      }
      map.put(key, keysAndValues[i + 1]);
    }
    return new Config(map);
  }

  /**
   * Returns a copy of this configuration with one entry added or replaced.
   *
   * @param key the name
   * @param value the scalar value
   * @return the new configuration
   * @throws IllegalArgumentException if the value is not a scalar
   */
  public Config with(String key, Object value) {
    Map<String, Object> map = new LinkedHashMap<>(values);
    map.put(key, value);
    return new Config(map);
  }

  /**
   * Tells whether an entry exists.
   *
   * @param key the name
   * @return true if the configuration has an entry with that name
   */
  public boolean contains(String key) {
    return values.containsKey(key);
  }

  /**
   * Returns an integer entry.
   *
   * @param key the name
   * @param defaultValue returned when there is no such entry
   * @return the value
   * @throws IllegalArgumentException if the entry is not a whole number
   */
  public long getLong(String key, long defaultValue) {
    Object value = values.get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Long l) {
      return l;
    }
    throw wrongType(key, value, "an integer");
  }

  /**
   * Returns an integer entry that must fit an {@code int}.
   *
   * @param key the name
   * @param defaultValue returned when there is no such entry
   * @return the value
   * @throws IllegalArgumentException if the entry is not a whole number within int range
   */
  public int getInt(String key, int defaultValue) {
    long value = getLong(key, defaultValue);
    if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "config entry '" + key + "' = " + value + " does not fit an int");
    }
    return (int) value;
  }

  /**
   * Returns a numeric entry; integers are widened.
   *
   * @param key the name
   * @param defaultValue returned when there is no such entry
   * @return the value
   * @throws IllegalArgumentException if the entry is not a number
   */
  public double getDouble(String key, double defaultValue) {
    Object value = values.get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Double d) {
      return d;
    }
    if (value instanceof Long l) {
      return l;
    }
    throw wrongType(key, value, "a number");
  }

  /**
   * Returns a boolean entry.
   *
   * @param key the name
   * @param defaultValue returned when there is no such entry
   * @return the value
   * @throws IllegalArgumentException if the entry is not a boolean
   */
  public boolean getBoolean(String key, boolean defaultValue) {
    Object value = values.get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof Boolean b) {
      return b;
    }
    throw wrongType(key, value, "a boolean");
  }

  /**
   * Returns a string entry.
   *
   * @param key the name
   * @param defaultValue returned when there is no such entry
   * @return the value
   * @throws IllegalArgumentException if the entry is not a string
   */
  public String getString(String key, String defaultValue) {
    Object value = values.get(key);
    if (value == null) {
      return defaultValue;
    }
    if (value instanceof String s) {
      return s;
    }
    throw wrongType(key, value, "a string");
  }

  private static IllegalArgumentException wrongType(String key, Object value, String expected) {
    return new IllegalArgumentException(String.format("config entry '%s' = %s (%s) is not %s",
        key, value, value.getClass().getSimpleName(), expected));
  }

  private static Object normalise(String key, Object value) {
    Objects.requireNonNull(value, () -> "config value for '" + key + "'");
    if (value instanceof Boolean || value instanceof Long || value instanceof Double
        || value instanceof String) {
      return value;
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof Float f) {
      return f.doubleValue();
    }
    throw new IllegalArgumentException(String.format(
        "config entry '%s' = %s is a %s; use a Boolean, Long, Double or String",
        key, value, value.getClass().getName()));
  }
}
