package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.TrackingOptions;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.learner.Learner;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.proto.codec.FlopsVersion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A cluster aggregator of a hierarchical Fashion-MNIST federation as its own process: an
 * aggregator that its site's learners ({@link FashionLearnerMain} with {@code --clusters} and
 * {@code --cluster}) connect to, and at the same time a learner of the root aggregator
 * ({@link FashionAggregatorMain}). Each fit task of the root runs {@code --cycles} rounds of the
 * cluster's federation from the root's global model; each evaluate task has the cluster's learners
 * evaluate the root's model. It holds no data.
 */
@Command(name = "fashion-cluster", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs a Fashion-MNIST cluster aggregator that is a learner of a root aggregator.")
public final class FashionClusterMain implements Callable<Integer>, CommandLineFlags.Command {
  private static final CommandLineFlags FLAGS = CommandLineFlags.of(Map.of(
      "rounds must", "--cycles must",
      "minAvailableLearners", "--learners",
      "roundTimeout", "--round-timeout"));
  private static final Logger log = LoggerFactory.getLogger(FashionClusterMain.class);

  @Mixin
  TrackingOptions tracking = new TrackingOptions(FashionMnist.EXPERIMENT);

  @Option(names = "--root", defaultValue = "127.0.0.1:" + Aggregator.DEFAULT_PORT,
      paramLabel = "HOST:PORT",
      description = "The root aggregator's address (default: ${DEFAULT-VALUE}).")
  String root;

  @Option(names = "--host", defaultValue = "0.0.0.0",
      description = "Address the cluster's learners connect to (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "50061",
      description = "Port the cluster's learners connect to (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--name",
      description = "The cluster's name at the root (default: cluster-PORT).")
  String name;

  @Option(names = "--learners", defaultValue = "3",
      description = "The cluster's learners that must be connected before a cycle starts "
          + "(default: ${DEFAULT-VALUE}).")
  int learners;

  @Mixin
  CycleOptions cycles = new CycleOptions();

  @Option(names = "--round-timeout", defaultValue = "600",
      description = "Seconds a task of the cluster's learners may take (default: "
          + "${DEFAULT-VALUE}); the root's --round-timeout must cover all cycles of a root round.")
  long roundTimeoutSeconds;

  @Option(names = "--model", defaultValue = "mlp",
      description = "mlp or mlp-graph; must match the root's and the learners' "
          + "(default: ${DEFAULT-VALUE}).")
  String model;

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the model copy; the root's parameters replace it "
          + "(default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--checkpoint-dir", paramLabel = "DIR",
      description = "Checkpoint every cycle under DIR, one directory per root round, and resume "
          + "there when the root repeats a round (default: no checkpoints).")
  Path checkpointDir;

  /**
   * Runs the cluster.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    // A cluster prints no results: the root's table holds them.
    System.exit(StandardOutput.execute(results -> new FashionClusterMain(), args));
  }

  @Override
  public CommandLineFlags commandLineFlags() {
    return FLAGS;
  }

  @Override
  public Integer call() throws Exception {
    cycles.validate();
    TrainingPlan.Builder plan = tracking.applyTo(TrainingPlan.builder())
        .rounds(cycles.cycles)
        .minAvailableLearners(learners)
        .roundTimeout(Duration.ofSeconds(roundTimeoutSeconds))
        .learnerWait(Duration.ofMinutes(10));
    try (Aggregator cluster = Aggregator.builder()
        .host(host)
        .port(port)
        .model(FashionOptions.modelFactory(model).apply(seed))
        .build()
        .start()) {
      String who = name != null ? name : "cluster-" + cluster.port();
      log.info("{}: {} cycles per root round over {} learners; joining the root at {}", who,
          cycles.cycles, learners, root);
      Learner.builder()
          .aggregator(root)
          .name(who)
          .trainer(FashionCluster.trainer(cluster, plan.name(who).build(), cycles, checkpointDir))
          .build()
          .run();
    } // close() tells the cluster's learners to shut down
    return 0;
  }
}
