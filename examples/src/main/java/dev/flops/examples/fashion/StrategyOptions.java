package dev.flops.examples.fashion;

import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import dev.flops.api.strategy.catalog.StrategyCatalog;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code --strategy NAME[:knob=value,...]} option of the Fashion mains that aggregate (a
 * picocli mixin); the command's help ends with every strategy of {@link StrategyCatalog} and its
 * knobs.
 */
public final class StrategyOptions {

  @Option(names = "--strategy", defaultValue = "fedavg", paramLabel = "NAME[:KNOB=VALUE,...]",
      description = "How updates are aggregated, e.g. fedadam:eta=0.003,tau=0.001 or krum:f=1 (with 5 or more learners); "
          + "the strategies and their knobs are listed below (default: ${DEFAULT-VALUE}).")
  String strategy = "fedavg";

  /** Appends the strategy list to the help of the command this mixin is part of. */
  @Spec(Spec.Target.MIXEE)
  void listStrategies(CommandSpec mixee) {
    mixee.usageMessage().footerHeading("%nStrategies (--strategy NAME:knob=value,...):%n")
        .footer(StrategyCatalog.help().split("\\R"));
  }

  /**
   * Checks the specification, its values and what it needs of the learners a round has, before
   * anything starts, so that a typo costs no data loading and a Krum that can never combine is
   * refused at once.
   *
   * @param learners the learners a round will have
   */
  void validate(int learners) {
    StrategyCatalog.create(strategy, FedAvg.builder());
    StrategyCatalog.checkLearners(strategy, learners);
  }

  /**
   * Builds the chosen strategy on the Fashion example's FedAvg settings.
   *
   * @param base the FedAvg settings (configs, central evaluation) every strategy inherits
   */
  Strategy create(FedAvg.Builder base) {
    return StrategyCatalog.create(strategy, base);
  }
}
