package dev.flops.aggregator;

import picocli.CommandLine.Option;

/**
 * The command-line option {@code --reproducible}
 * ({@link Aggregator.Builder#reproducibleAggregation}) as a picocli mixin for any aggregator main: {@code @Mixin ReproducibleOptions reproducible;} then
 * {@code reproducible.applyTo(builder)}.
 */
public final class ReproducibleOptions {

  /** The option's help, also for mains that declare the option themselves. */
  public static final String DESCRIPTION = "Average exactly, so that the global model does not "
      + "depend on the order in which updates arrive: the same seed then gives the same rounds "
      + "twice if the learners train deterministically too. DL4J does for a given number of "
      + "native threads, but its bits change with that number: give learner processes a fixed "
      + "--native-threads (auto depends on how many share the machine). Costs 16 bytes of heap "
      + "per parameter and a slower fold; refuses updates holding a value of magnitude 2^22 or "
      + "more.";

  @Option(names = "--reproducible", description = DESCRIPTION)
  boolean reproducible;

  /**
   * Sets the option on an aggregator's builder.
   *
   * @param builder the builder
   * @return the builder
   */
  public Aggregator.Builder applyTo(Aggregator.Builder builder) {
    return builder.reproducibleAggregation(reproducible);
  }

  /**
   * Returns whether {@code --reproducible} was given.
   *
   * @return true if it was
   */
  public boolean reproducible() {
    return reproducible;
  }
}
