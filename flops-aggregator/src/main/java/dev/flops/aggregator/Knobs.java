package dev.flops.aggregator;

import dev.flops.proto.codec.Durations;
import java.time.Duration;
import java.util.Objects;

/** The checks the aggregator's builders share: a bad value is named with the knob. */
final class Knobs {
  private Knobs() {}

  /**
   * Returns {@code value} if it is at least {@code min}.
   *
   * @throws IllegalArgumentException naming the knob and the value otherwise
   */
  static int atLeast(String knob, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(knob + " must be at least " + min + " but was " + value);
    }
    return value;
  }

  /**
   * Returns {@code value} if it is a positive duration.
   *
   * @throws IllegalArgumentException naming the knob and the value (for people) otherwise
   */
  static Duration positive(String knob, Duration value) {
    Objects.requireNonNull(value, knob);
    if (value.isZero() || value.isNegative()) {
      throw new IllegalArgumentException(
          knob + " must be positive but was " + Durations.forPeople(value));
    }
    return value;
  }
}
