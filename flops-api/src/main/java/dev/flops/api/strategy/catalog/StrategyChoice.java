package dev.flops.api.strategy.catalog;

import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import java.util.List;
import java.util.Objects;

/**
 * One strategy of the {@link StrategyCatalog}: its command-line name, knobs, paper and when to
 * use it, and how to build it.
 *
 * @param name the name typed on the command line, lower case (e.g. {@code fedadam})
 * @param paper the paper the algorithm comes from, as "Authors Year, Title"
 * @param whenToUse one sentence: the situation it is for
 * @param knobs the knobs it takes, in the order help lists them; copied
 * @param factory builds the strategy from FedAvg's settings and the typed knobs
 */
public record StrategyChoice(
    String name, String paper, String whenToUse, List<KnobSpec> knobs, Factory factory) {

  /** Builds a strategy of a catalog entry. */
  @FunctionalInterface
  public interface Factory {

    /**
     * Builds the strategy.
     *
     * @param base FedAvg's settings (sampling, configs, central evaluation) the strategy inherits
     * @param knobs the typed knobs; only names of the entry's {@link #knobs()} occur
     * @return the strategy
     * @throws IllegalArgumentException if a knob's value is out of range; the message names it
     */
    Strategy create(FedAvg.Builder base, KnobValues knobs);
  }

  /**
   * Validates the entry.
   *
   * @throws NullPointerException if an argument is null
   */
  public StrategyChoice {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(paper, "paper");
    Objects.requireNonNull(whenToUse, "whenToUse");
    knobs = List.copyOf(knobs);
    Objects.requireNonNull(factory, "factory");
  }

  /**
   * Returns the knob with this name.
   *
   * @param knob a name
   * @return the knob, or null if the strategy has none of that name
   */
  KnobSpec knob(String knob) {
    for (KnobSpec spec : knobs) {
      if (spec.name().equals(knob)) {
        return spec;
      }
    }
    return null;
  }
}
