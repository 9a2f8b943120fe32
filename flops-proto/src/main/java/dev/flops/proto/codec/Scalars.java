package dev.flops.proto.codec;

import dev.flops.api.Config;
import dev.flops.proto.v1.Scalar;
import java.util.LinkedHashMap;
import java.util.Map;

/** Converts configs and metrics to and from the wire's scalar maps. */
public final class Scalars {

  private Scalars() {}

  /**
   * Converts a config to wire scalars.
   *
   * @param config the config
   * @return the scalar map
   */
  public static Map<String, Scalar> toWire(Config config) {
    Map<String, Scalar> wire = new LinkedHashMap<>();
    config.values().forEach((key, value) -> wire.put(key, toWire(value)));
    return wire;
  }

  /**
   * Converts wire scalars to a config.
   *
   * @param wire the scalar map
   * @return the config
   * @throws WireFormatException if a scalar has no value
   */
  public static Config toConfig(Map<String, Scalar> wire) {
    Map<String, Object> values = new LinkedHashMap<>();
    wire.forEach((key, scalar) -> values.put(key, fromWire(key, scalar)));
    try {
      return new Config(values);
    } catch (IllegalArgumentException e) {
      throw new WireFormatException(WireError.MALFORMED_MESSAGE,
          "invalid config: " + e.getMessage());
    }
  }

  /**
   * Converts metrics to wire scalars.
   *
   * @param metrics the metrics
   * @return the scalar map
   */
  public static Map<String, Scalar> metricsToWire(Map<String, Double> metrics) {
    Map<String, Scalar> wire = new LinkedHashMap<>();
    metrics.forEach((key, value) -> wire.put(key, Scalar.newBuilder().setDoubleValue(value).build()));
    return wire;
  }

  /**
   * Converts wire scalars to metrics; integers are widened, booleans become 0 or 1. Values are
   * not range-checked here; {@link dev.flops.api.ReportedNumbers} does that.
   *
   * @param wire the scalar map
   * @return the metrics
   * @throws WireFormatException if a scalar is a string or empty, naming the metric and its type
   */
  public static Map<String, Double> toMetrics(Map<String, Scalar> wire) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    wire.forEach((key, scalar) -> {
      Object value = fromWire(key, scalar);
      if (value instanceof Double d) {
        metrics.put(key, d);
      } else if (value instanceof Long l) {
        metrics.put(key, l.doubleValue());
      } else if (value instanceof Boolean b) {
        metrics.put(key, b ? 1.0 : 0.0);
      } else {
        throw new WireFormatException(WireError.RESULT_INVALID, 
            "metric '" + key + "' is " + describeType(scalar) + "; metrics must be numbers");
      }
    });
    return metrics;
  }

  /**
   * Tells whether a wire scalar is a number (an integer or a double), as opposed to a boolean, a
   * string or nothing.
   *
   * @param scalar the scalar
   * @return true for {@code int_value} and {@code double_value}
   */
  public static boolean isNumber(Scalar scalar) {
    return scalar.getValueCase() == Scalar.ValueCase.INT_VALUE
        || scalar.getValueCase() == Scalar.ValueCase.DOUBLE_VALUE;
  }

  /**
   * Describes a wire scalar's type and value for an error message, e.g. {@code a string ("cat")}.
   *
   * @param scalar the scalar
   * @return the description; a long string is shortened
   */
  public static String describeType(Scalar scalar) {
    return switch (scalar.getValueCase()) {
      case BOOL_VALUE -> "a bool (" + scalar.getBoolValue() + ")";
      case INT_VALUE -> "an integer (" + scalar.getIntValue() + ")";
      case DOUBLE_VALUE -> "a double (" + scalar.getDoubleValue() + ")";
      case STRING_VALUE -> {
        String text = scalar.getStringValue();
        yield "a string (\"" + (text.length() <= 40 ? text : text.substring(0, 40) + "...") + "\")";
      }
      case VALUE_NOT_SET -> "empty (no value)";
    };
  }

  private static Scalar toWire(Object value) {
    Scalar.Builder scalar = Scalar.newBuilder();
    if (value instanceof Boolean b) {
      scalar.setBoolValue(b);
    } else if (value instanceof Long l) {
      scalar.setIntValue(l);
    } else if (value instanceof Double d) {
      scalar.setDoubleValue(d);
    } else {
      scalar.setStringValue((String) value);
    }
    return scalar.build();
  }

  private static Object fromWire(String key, Scalar scalar) {
    return switch (scalar.getValueCase()) {
      case BOOL_VALUE -> scalar.getBoolValue();
      case INT_VALUE -> scalar.getIntValue();
      case DOUBLE_VALUE -> scalar.getDoubleValue();
      case STRING_VALUE -> scalar.getStringValue();
      case VALUE_NOT_SET -> throw new WireFormatException(WireError.MALFORMED_MESSAGE,
          "scalar '" + key + "' has no value");
    };
  }
}
