package dev.flops.api.strategy.catalog;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The knob values typed for one strategy, read by its {@link StrategyChoice.Factory}. Every read
 * names the strategy and the knob in its error, so that a typo on the command line gets a message
 * about what was typed.
 */
public final class KnobValues {
  private final String strategy;
  private final Map<String, String> values;
  private final Map<String, String> defaults;

  private KnobValues(String strategy, Map<String, String> values, Map<String, String> defaults) {
    this.strategy = strategy;
    this.values = Map.copyOf(values);
    this.defaults = Map.copyOf(defaults);
  }

  /**
   * Returns whether the knob was given.
   *
   * @param knob the knob's name
   * @return true if it was typed
   */
  public boolean has(String knob) {
    return values.containsKey(knob);
  }

  /**
   * Returns the knob's text, if it was given.
   *
   * @param knob the knob's name
   * @return the typed value
   */
  public Optional<String> text(String knob) {
    return Optional.ofNullable(values.get(knob));
  }

  /**
   * Returns a real-valued knob, or its {@linkplain KnobSpec#defaultValue() default}.
   *
   * @param knob the knob's name
   * @return the value
   * @throws IllegalArgumentException if the typed value is not a finite number
   */
  public double number(String knob) {
    String text = valueOrDefault(knob);
    try {
      double value = Double.parseDouble(text.trim());
      if (Double.isFinite(value)) {
        return value;
      }
    } catch (NumberFormatException e) {
      // reported below, with the knob's name
    }
    throw new IllegalArgumentException(
        strategy + ": knob '" + knob + "' must be a finite number but was '" + text + "'");
  }

  /**
   * Returns a whole-number knob, or its {@linkplain KnobSpec#defaultValue() default}.
   *
   * @param knob the knob's name
   * @return the value
   * @throws IllegalArgumentException if the typed value is not a whole number
   */
  public int integer(String knob) {
    String text = valueOrDefault(knob);
    try {
      return Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          strategy + ": knob '" + knob + "' must be a whole number but was '" + text + "'", e);
    }
  }

  @Override
  public String toString() {
    return strategy + values;
  }

  String strategy() {
    return strategy;
  }

  Map<String, String> values() {
    return values;
  }

  private String valueOrDefault(String knob) {
    String text = values.get(knob);
    if (text != null) {
      return text;
    }
    String fallback = defaults.get(knob);
    if (fallback == null) {
      throw new IllegalStateException(strategy + " has no knob '" + knob + "' with a default");
    }
    return fallback;
  }

  static KnobValues of(StrategyChoice choice, Map<String, String> values) {
    Map<String, String> defaults = new java.util.HashMap<>();
    choice.knobs().forEach(knob -> defaults.put(knob.name(), knob.defaultValue()));
    return new KnobValues(Objects.requireNonNull(choice).name(), values, defaults);
  }
}
