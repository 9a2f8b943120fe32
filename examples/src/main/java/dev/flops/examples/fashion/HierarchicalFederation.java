package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.ClusterTrainer;
import dev.flops.aggregator.SignalStop;
import dev.flops.aggregator.TrackingOptions;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintStream;
import java.nio.file.Path;
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
 * A hierarchical federation on one machine: a root aggregator, {@code --clusters} cluster
 * aggregators that are learners of the root, and {@code --learners-per-cluster} learners per
 * cluster, all talking real gRPC over 127.0.0.1 in one JVM. The clusters are sites with different
 * data: the classes are dealt out to them ({@link SiteShare}), and each cluster's learners split
 * its examples IID. A root round runs {@code --cycles} rounds in every cluster, from the root's
 * global model, then averages the clusters' models weighted by their examples.
 * {@link FashionAggregatorMain}, {@link FashionClusterMain} and {@link FashionLearnerMain} run the
 * same federation as separate processes or machines.
 */
@Command(name = "hierarchical-federation", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs a root aggregator, cluster aggregators and their learners on "
        + "Fashion-MNIST over gRPC on loopback.")
public final class HierarchicalFederation implements Callable<Integer>, CommandLineFlags.Command {
  private static final CommandLineFlags FLAGS = CommandLineFlags.of(Map.of(
      "rounds must", "--rounds must"));
  private static final Logger log = LoggerFactory.getLogger(HierarchicalFederation.class);

  @Mixin
  TrackingOptions tracking = new TrackingOptions(FashionMnist.EXPERIMENT);

  @Option(names = "--clusters", defaultValue = "2",
      description = "Cluster aggregators (sites) under the root (default: ${DEFAULT-VALUE}).")
  int clusters;

  @Option(names = "--learners-per-cluster", defaultValue = "3",
      description = "Learners of each cluster (default: ${DEFAULT-VALUE}).")
  int learnersPerCluster;

  @Option(names = "--rounds", defaultValue = "3",
      description = "Root rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Mixin
  CycleOptions cycles = new CycleOptions();

  @Mixin
  DataOptions dataOptions = new DataOptions();

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the model and the shuffling (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--central-evaluation", defaultValue = "true", negatable = true,
      description = "Also evaluate the root's model on the whole test set after every root "
          + "round (default: ${DEFAULT-VALUE}; --no-central-evaluation turns it off).")
  boolean centralEvaluation;

  @Option(names = "--checkpoint-dir", paramLabel = "DIR",
      description = "Checkpoint the root in DIR/root and each cluster under DIR/cluster-C "
          + "(default: no checkpoints).")
  Path checkpointDir;

  private final PrintStream out;
  private TrainingResult result;

  /** Creates the command printing its summary to standard output. */
  public HierarchicalFederation() {
    this(System.out);
  }

  HierarchicalFederation(PrintStream out) {
    this.out = out;
  }

  /**
   * Runs the federation.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(StandardOutput.execute(HierarchicalFederation::new, args));
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
    if (learnersPerCluster < 1) {
      throw new IllegalArgumentException(
          "--learners-per-cluster must be at least 1 but was " + learnersPerCluster);
    }
    FashionOptions options = leafOptions();
    options.validate();
    new SiteShare(clusters, 0); // checks --clusters
    cycles.validate();
    FashionMnist data = options.load();
    String setup = String.format(Locale.ROOT, "Fashion-MNIST hierarchical federation: %d "
            + "clusters (classes dealt out to them) x %d learners (IID within a cluster), %d root "
            + "rounds x %d cycles, %d local epoch(s); %s", clusters, learnersPerCluster, rounds,
        cycles.cycles, cycles.localEpochs, data.source().description());
    log.info(setup);

    CentralTestSet central =
        centralEvaluation ? new CentralTestSet(options.newModel(), data.test()) : null;
    FedAvg.Builder rootStrategy = FedAvg.builder();
    if (central != null) {
      rootStrategy.centralEvaluation(central);
    }
    SignalStop signals = new SignalStop();
    TrainingPlan.Builder rootPlan = signals.observe(tracking.applyTo(TrainingPlan.builder()))
        .rounds(rounds)
        .minAvailableLearners(clusters)
        .learnerWait(Duration.ofMinutes(5))
        .announceRounds(true);
    if (checkpointDir != null) {
      rootPlan.checkpointDirectory(checkpointDir.resolve("root")).resume(true);
    }
    TrainingPlan.Builder cyclesPlan = tracking.applyTo(TrainingPlan.builder())
        .rounds(cycles.cycles)
        .minAvailableLearners(learnersPerCluster)
        .learnerWait(Duration.ofMinutes(5));
    long start = System.nanoTime();
    List<Aggregator> clusterAggregators = new ArrayList<>();
    List<CompletableFuture<Void>> clusterLearners = new ArrayList<>();
    List<CompletableFuture<Void>> leaves = new ArrayList<>();
    try (Aggregator root = Aggregator.builder()
        .host("127.0.0.1")
        .port(0)
        .model(options.newModel())
        .build()
        .start();
        SignalStop armed = signals.arm(root)) {
      for (int c = 0; c < clusters; c++) {
        Aggregator cluster = Aggregator.builder()
            .host("127.0.0.1")
            .port(0)
            .model(options.newModel())
            .build()
            .start();
        clusterAggregators.add(cluster);
        SiteShare site = new SiteShare(clusters, c);
        for (int i = 0; i < learnersPerCluster; i++) {
          leaves.add(Learner.builder()
              .aggregator("127.0.0.1", cluster.port())
              .name(site.learnerName(i))
              .trainer(options.trainer(data, i, site))
              .build()
              .runAsync());
        }
        // Named, so that each cluster's trainings say whose they are under the root's rounds.
        ClusterTrainer trainer = FashionCluster.trainer(cluster,
            cyclesPlan.name("cluster-" + c).build(), cycles,
            checkpointDir == null ? null : checkpointDir.resolve("cluster-" + c));
        clusterLearners.add(Learner.builder()
            .aggregator("127.0.0.1", root.port())
            .name("cluster-" + c)
            .trainer(trainer)
            .build()
            .runAsync());
      }
      result = root.train(rootPlan.build(), rootStrategy.build());
      root.shutdownLearners();
      for (CompletableFuture<Void> clusterLearner : clusterLearners) {
        clusterLearner.get(1, TimeUnit.MINUTES);
      }
    } finally {
      for (Aggregator cluster : clusterAggregators) {
        cluster.close(); // tells its learners to shut down
      }
    }
    for (CompletableFuture<Void> leaf : leaves) {
      leaf.get(1, TimeUnit.MINUTES);
    }
    RoundTable.print(out, setup, result, central, Duration.ofNanos(System.nanoTime() - start));
    // What the table's accuracy hides: each cluster's model after its cycles, on its own classes.
    StringBuilder clusterAccuracy = new StringBuilder();
    for (RoundSummary round : result.rounds()) {
      Double accuracy = round.fitMetrics().get(ClusterTrainer.CLUSTER_ACCURACY);
      clusterAccuracy.append(String.format(Locale.ROOT, "%s round %d: %s",
          clusterAccuracy.length() == 0 ? "" : ";", round.round(),
          accuracy == null ? "n/a" : String.format(Locale.ROOT, "%.4f", accuracy)));
    }
    out.println("cluster accuracy after its cycles (each cluster's own model on its own learners' "
        + "test shards, example-weighted over the clusters):" + clusterAccuracy);
    return 0;
  }

  /** The options of every leaf learner: the data, the model and the local training. */
  private FashionOptions leafOptions() {
    FashionOptions options = new FashionOptions();
    options.data = dataOptions;
    options.learners = learnersPerCluster;
    options.partition = "iid";
    options.localEpochs = cycles.localEpochs;
    options.batchSize = cycles.batchSize;
    options.seed = seed;
    return options;
  }
}
