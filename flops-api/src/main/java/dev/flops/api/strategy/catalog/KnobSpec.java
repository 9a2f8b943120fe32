package dev.flops.api.strategy.catalog;

import java.util.Objects;

/**
 * One knob a strategy of the {@link StrategyCatalog} takes on the command line.
 *
 * @param name the knob's name as typed after the strategy's, e.g. {@code eta} in
 *     {@code fedadam:eta=0.01}; lower case, digits and {@code _}
 * @param defaultValue the value used when the knob is not given, as text (e.g. {@code 0.1}), read
 *     by {@link KnobValues#number}; a description such as {@code n-f} when the default depends on
 *     the round (the factory then asks {@link KnobValues#has})
 * @param description what the knob does, its range and unit, in one sentence
 */
public record KnobSpec(String name, String defaultValue, String description) {

  /**
   * Validates the knob.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the name is not lower case, digits and {@code _}
   */
  public KnobSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(defaultValue, "defaultValue");
    Objects.requireNonNull(description, "description");
    if (!name.matches("[a-z][a-z0-9_]*")) {
      throw new IllegalArgumentException(
          "a knob name is lower case, digits and _, starting with a letter, but was '" + name + "'");
    }
  }
}
