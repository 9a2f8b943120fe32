package dev.flops.aggregator.internal.tracking;

import java.math.BigDecimal;

/**
 * Formats a double the way Python's {@code str(float)} does, which is how MLflow's file store
 * writes metric values: shortest round-trip digits, fixed notation for decimal exponents in
 * [-4, 16), else {@code 1.5e-05} style; {@code nan}, {@code inf}, {@code -inf}.
 */
final class PyFloat {
  private PyFloat() {}

  static String format(double value) {
    if (Double.isNaN(value)) {
      return "nan";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "inf" : "-inf";
    }
    if (value == 0) {
      return (1 / value < 0) ? "-0.0" : "0.0";
    }
    String sign = value < 0 ? "-" : "";
    BigDecimal decimal = new BigDecimal(Double.toString(Math.abs(value))).stripTrailingZeros();
    String digits = decimal.unscaledValue().toString();
    int exponent = digits.length() - 1 - decimal.scale();
    StringBuilder out = new StringBuilder(sign);
    if (exponent >= -4 && exponent < 16) {
      if (exponent >= 0) {
        if (digits.length() <= exponent + 1) {
          out.append(digits).append("0".repeat(exponent + 1 - digits.length())).append(".0");
        } else {
          out.append(digits, 0, exponent + 1).append('.').append(digits.substring(exponent + 1));
        }
      } else {
        out.append("0.").append("0".repeat(-exponent - 1)).append(digits);
      }
    } else {
      out.append(digits.charAt(0));
      if (digits.length() > 1) {
        out.append('.').append(digits.substring(1));
      }
      out.append('e').append(exponent < 0 ? '-' : '+');
      int magnitude = Math.abs(exponent);
      out.append(magnitude < 10 ? "0" : "").append(magnitude);
    }
    return out.toString();
  }
}
