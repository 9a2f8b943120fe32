package dev.flops.proto.codec;

import java.time.Duration;

/**
 * Durations as both sides print them for people: {@code 15 s}, {@code 1.5 s}, {@code 250 ms},
 * {@code 10 min}, {@code 2 min 30 s}, {@code 1 h 5 min}, rather than {@link Duration#toString()}'s
 * ISO form ({@code PT15S}, {@code PT10M}), which reads like a code in a log line or an error.
 */
public final class Durations {
  private Durations() {}

  /**
   * Returns a duration as people read it. Below one second: whole milliseconds; below a minute:
   * seconds with at most one decimal (rounded); from a minute on: hours, minutes and whole seconds, each
   * part only when it is not zero.
   *
   * @param duration any duration, negative ones included
   * @return e.g. {@code 1.5 s}, {@code 10 min}, {@code 2 min 30 s}, {@code 0 s}
   * @throws NullPointerException if {@code duration} is null
   */
  public static String forPeople(Duration duration) {
    if (duration.isNegative()) {
      return "-" + forPeople(duration.negated());
    }
    long millis = duration.toMillis();
    if (millis == 0 && !duration.isZero()) {
      return "less than 1 ms";
    }
    if (millis < 1000) {
      return millis + " ms";
    }
    long tenths = Math.round(millis / 100.0);
    if (tenths < 600) {
      return tenths % 10 == 0 ? tenths / 10 + " s" : tenths / 10 + "." + tenths % 10 + " s";
    }
    long seconds = Math.round(millis / 1000.0);
    StringBuilder text = new StringBuilder();
    append(text, seconds / 3600, "h");
    append(text, seconds / 60 % 60, "min");
    append(text, seconds % 60, "s");
    return text.toString();
  }

  private static void append(StringBuilder text, long amount, String unit) {
    if (amount != 0) {
      text.append(text.length() == 0 ? "" : " ").append(amount).append(' ').append(unit);
    }
  }
}
