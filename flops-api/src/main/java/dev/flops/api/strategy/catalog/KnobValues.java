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

  KnobValues(String strategy, Map<String, String> values) {
    this.strategy = strategy;
    this.values = Map.copyOf(values);
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
   * Returns a real-valued knob, or its default.
   *
   * @param knob the knob's name
   * @param defaultValue the value when the knob was not given
   * @return the value
   * @throws IllegalArgumentException if the typed value is not a finite number
   */
  public double number(String knob, double defaultValue) {
    String text = values.get(knob);
    if (text == null) {
      return defaultValue;
    }
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
   * Returns a whole-number knob, or its default.
   *
   * @param knob the knob's name
   * @param defaultValue the value when the knob was not given
   * @return the value
   * @throws IllegalArgumentException if the typed value is not a whole number
   */
  public int integer(String knob, int defaultValue) {
    String text = values.get(knob);
    if (text == null) {
      return defaultValue;
    }
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

  static KnobValues of(String strategy, Map<String, String> values) {
    return new KnobValues(Objects.requireNonNull(strategy), values);
  }
}
