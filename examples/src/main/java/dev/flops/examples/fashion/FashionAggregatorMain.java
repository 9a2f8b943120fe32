package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.TrackingOptions;
import dev.flops.aggregator.AggregatorSecurityOptions;
import dev.flops.aggregator.AggregatorThreadsOptions;
import dev.flops.aggregator.BestRoundOptions;
import dev.flops.aggregator.CheckpointOptions;
import dev.flops.aggregator.NotifyOptions;
import dev.flops.aggregator.ReproducibleOptions;
import dev.flops.aggregator.SignalStop;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.strategy.Strategy;
import dev.flops.learner.LearnerMain;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.api.TrainingResult;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The Fashion-MNIST aggregator as its own process, for a federation across processes or machines.
 * It holds the MLP without any data; learners connect with {@link FashionLearnerMain}.
 */
@Command(name = "fashion-aggregator", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs the Fashion-MNIST aggregator; learners connect to it.")
public final class FashionAggregatorMain implements Callable<Integer>, CommandLineFlags.Command {
  /** The builder knobs these flags set, so that an error names the flag the user typed. */
  private static final CommandLineFlags FLAGS = CommandLineFlags.of(Map.of(
      "rounds must", "--rounds must",
      "minAvailableLearners", "--min-learners",
      "roundTimeout", "--round-timeout"));

  private static final Logger log = LoggerFactory.getLogger(FashionAggregatorMain.class);

  @Mixin
  TrackingOptions tracking = new TrackingOptions(FashionMnist.EXPERIMENT);

  @Mixin
  NotifyOptions notify = new NotifyOptions(FashionMnist.EXPERIMENT);

  @Mixin
  AggregatorThreadsOptions nativeThreads = new AggregatorThreadsOptions();

  @Option(names = "--host", defaultValue = "0.0.0.0",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "" + Aggregator.DEFAULT_PORT,
      description = "Port to listen on (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--rounds", defaultValue = "3", description = "Rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--min-learners", defaultValue = "3",
      description = "Learners that must be connected before a round starts (default: ${DEFAULT-VALUE}).")
  int minLearners;

  @Option(names = "--local-epochs", defaultValue = "1",
      description = "Local epochs per round (default: ${DEFAULT-VALUE}).")
  int localEpochs;

  @Option(names = "--batch-size", defaultValue = "64",
      description = "Minibatch size (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--round-timeout", defaultValue = "600",
      description = "Seconds a fit or evaluate task may take (default: ${DEFAULT-VALUE}).")
  long roundTimeoutSeconds;

  @Option(names = "--model", defaultValue = "mlp",
      description = "mlp or mlp-graph; must match the learners' (default: ${DEFAULT-VALUE}).")
  String model;

  @Mixin
  CheckpointOptions checkpoints = new CheckpointOptions();

  @Mixin
  BestRoundOptions bestRound = new BestRoundOptions();

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the initial model (default: ${DEFAULT-VALUE}).")
  long seed;

  @Mixin
  AggregatorSecurityOptions security = new AggregatorSecurityOptions();

  @Mixin
  ReproducibleOptions reproducible = new ReproducibleOptions();

  @Option(names = "--central-evaluation", defaultValue = "true", negatable = true,
      description = "Evaluate the global model on the whole Fashion-MNIST test set after every "
          + "round (default: ${DEFAULT-VALUE}; --no-central-evaluation turns it off).")
  boolean centralEvaluation;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Directory with the Fashion-MNIST IDX .gz files, for the central evaluation. "
          + "Default: /usr/share/datasets/fashion-mnist if installed, else the embedded subset.")
  Path dataDir;

  @Option(names = "--test-limit",
      description = "Evaluate centrally on only the first N test images.")
  Integer testLimit;

  private final PrintStream out;

  /** Creates the command printing its results to standard output. */
  public FashionAggregatorMain() {
    this(System.out);
  }

  FashionAggregatorMain(PrintStream out) {
    this.out = out;
  }

  /**
   * Runs the aggregator.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(StandardOutput.execute(FashionAggregatorMain::new, args));
  }

  @Override
  public CommandLineFlags commandLineFlags() {
    return FLAGS;
  }

  @Mixin
  StrategyOptions strategyOptions = new StrategyOptions();

  @Override
  public Integer call() throws Exception {
    strategyOptions.validate(minLearners);
    long start = System.nanoTime();
    String setup = String.format(Locale.ROOT,
        "Fashion-MNIST aggregator: %d rounds, %d learners needed, %d local epoch(s)", rounds,
        minLearners, localEpochs);
    CentralTestSet central = null;
    if (centralEvaluation) {
      FashionMnist.Loader loader = FashionMnist.loader().dataDir(dataDir).limitTrain(1);
      if (testLimit != null) {
        loader.limitTest(testLimit);
      }
      FashionMnist data = loader.load();
      central = new CentralTestSet(FashionOptions.modelFactory(model).apply(seed), data.test());
      setup += "; central evaluation on " + data.source().description();
      log.info(setup);
    }
    Strategy strategy = strategyOptions.create(FashionStrategy.fedAvg(localEpochs, batchSize, central));
    log.info("strategy: {}", strategy);
    SignalStop signals = new SignalStop();
    TrainingPlan plan = signals.observe(bestRound.applyTo(checkpoints.applyTo(notify.applyTo(
            tracking.applyTo(TrainingPlan.builder())))))
        .rounds(rounds)
        .minAvailableLearners(minLearners)
        .roundTimeout(Duration.ofSeconds(roundTimeoutSeconds))
        // Cluster aggregators (FashionClusterMain) learn the root round and nest their MLflow
        // runs under it; flat learners ignore the entries.
        .announceRounds(true)
        .build();
    Aggregator.Builder builder = nativeThreads.applyTo(security.applyTo(
        reproducible.applyTo(Aggregator.builder()))
        .host(host)
        .port(port)
        .model(FashionOptions.modelFactory(model).apply(seed)));
    TrainingResult result;
    try (NotifyOptions flushedLast = notify;
        Aggregator aggregator = builder.build().start();
        SignalStop armed = signals.arm(aggregator)) {
      result = aggregator.train(plan, strategy);
    }
    RoundTable.print(out, setup, result, central, Duration.ofNanos(System.nanoTime() - start));
    return 0;
  }
}
