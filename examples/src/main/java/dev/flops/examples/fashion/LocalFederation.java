package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.ReproducibleOptions;
import dev.flops.aggregator.SignalStop;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.TrackingOptions;
import dev.flops.api.Config;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.Strategy;
import dev.flops.dl4j.Dl4jTrainer;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerMain;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A whole federation on one machine: an aggregator on loopback and N learners, each on its own
 * thread with its own partition of Fashion-MNIST, talking real gRPC over 127.0.0.1. Threads keep
 * the demo to one JVM and one ND4J runtime; {@link FashionAggregatorMain} and
 * {@link FashionLearnerMain} run the same federation as separate processes or machines.
 */
@Command(name = "local-federation", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs an aggregator and N learners on Fashion-MNIST over gRPC on loopback.")
public final class LocalFederation implements Callable<Integer>, CommandLineFlags.Command {
  /** The builder knobs these flags set, so that an error names the flag the user typed. */
  private static final CommandLineFlags FLAGS = CommandLineFlags.of(Map.of(
      "rounds must", "--rounds must",
      "minAvailableLearners", "--learners"));


  @Mixin
  TrackingOptions tracking = new TrackingOptions(FashionMnist.EXPERIMENT);
  private static final Logger log = LoggerFactory.getLogger(LocalFederation.class);

  @Mixin
  FashionOptions options = new FashionOptions();

  @Mixin
  ReproducibleOptions reproducible = new ReproducibleOptions();

  @Option(names = "--rounds", defaultValue = "3",
      description = "Federated rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--central-evaluation", defaultValue = "true", negatable = true,
      description = "Also evaluate the global model on the whole test set after every round "
          + "(default: ${DEFAULT-VALUE}; --no-central-evaluation turns it off).")
  boolean centralEvaluation;

  @Mixin
  StrategyOptions strategyOptions = new StrategyOptions();

  @Mixin
  AttackOptions attacks = new AttackOptions();

  @Option(names = "--port", defaultValue = "0",
      description = "Aggregator port on 127.0.0.1; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  int port;

  private final PrintStream out;
  private TrainingResult result;

  /** Creates the command printing its summary to standard output. */
  public LocalFederation() {
    this(System.out);
  }

  LocalFederation(PrintStream out) {
    this.out = out;
  }

  /**
   * Runs the federation.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(StandardOutput.execute(LocalFederation::new, args));
  }

  /** Returns the result of the last run, for tests. */
  TrainingResult result() {
    return result;
  }

  @Override
  public CommandLineFlags commandLineFlags() {
    return FLAGS;
  }

  @Override
  public Integer call() throws Exception {
    options.validate();
    strategyOptions.validate(options.learners);
    attacks.validate(options.learners);
    FashionMnist data = options.load();
    String setup = String.format(Locale.ROOT,
        "Fashion-MNIST federation: %d learners (%s partition), %d rounds, %d local epoch(s); %s",
        options.learners, options.partition, rounds, options.localEpochs,
        data.source().description());
    log.info(setup);

    CentralTestSet central =
        centralEvaluation ? new CentralTestSet(options.newModel(), data.test()) : null;
    Strategy strategy = strategyOptions.create(
        FashionStrategy.fedAvg(options.localEpochs, options.batchSize, central)
            .evaluateConfig(round -> Config.of(Dl4jTrainer.BATCH_SIZE, 1000)));
    log.info("strategy: {}{}", strategy, attacks.describe());
    long start = System.nanoTime();
    SignalStop signals = new SignalStop();
    TrainingPlan plan = signals.observe(tracking.applyTo(TrainingPlan.builder()))
        .rounds(rounds)
        .minAvailableLearners(options.learners)
        .learnerWait(Duration.ofMinutes(5))
        .build();
    try (Aggregator aggregator = reproducible.applyTo(Aggregator.builder())
        .host("127.0.0.1")
        .port(port)
        .model(options.newModel())
        .build()
        .start();
        SignalStop armed = signals.arm(aggregator)) {
      List<CompletableFuture<Void>> learners = new ArrayList<>();
      for (int i = 0; i < options.learners; i++) {
        Learner learner = Learner.builder()
            .aggregator("127.0.0.1", aggregator.port())
            .name("fashion-" + i)
            .trainer(attacks.trainer(options.trainer(data, i), i, options.learners, options.seed))
            .build();
        learners.add(learner.runAsync());
      }
      result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(1, TimeUnit.MINUTES);
      }
    }
    RoundTable.print(out, setup, result, central, Duration.ofNanos(System.nanoTime() - start));
    return 0;
  }
}
