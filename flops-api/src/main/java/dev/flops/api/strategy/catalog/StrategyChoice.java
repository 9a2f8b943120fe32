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
 * @param requirement what the strategy needs of the number of learners a round
 */
public record StrategyChoice(String name, String paper, String whenToUse, List<KnobSpec> knobs,
    Factory factory, Requirement requirement) {

  /** What a strategy needs of the number of learners a round, checked before anything starts. */
  @FunctionalInterface
  public interface Requirement {

    /**
     * Checks the learners a round will have against the typed knobs.
     *
     * @param knobs the typed knobs
     * @param learners the updates a round will have, at least 1
     * @return empty if the strategy can combine them, else what is wrong (e.g. "krum:f=1 needs
     *     more than 2f+2 = 4 updates a round")
     */
    java.util.Optional<String> check(KnobValues knobs, int learners);
  }

  /**
   * An entry without requirements on the number of learners.
   *
   * @param name as the record's
   * @param paper as the record's
   * @param whenToUse as the record's
   * @param knobs as the record's
   * @param factory as the record's
   */
  public StrategyChoice(
      String name, String paper, String whenToUse, List<KnobSpec> knobs, Factory factory) {
    this(name, paper, whenToUse, knobs, factory, (values, learners) -> java.util.Optional.empty());
  }

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
    Objects.requireNonNull(requirement, "requirement");
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
