package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.api.Config;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.dl4j.Dl4jTrainer;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerMain;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
    description = "Runs an aggregator and N learners on Fashion-MNIST over gRPC on loopback.")
public final class LocalFederation implements Callable<Integer> {

  @Mixin
  TrackingOptions tracking = new TrackingOptions();
  private static final Logger log = LoggerFactory.getLogger(LocalFederation.class);

  @Mixin
  FashionOptions options = new FashionOptions();

  @Option(names = "--rounds", defaultValue = "3",
      description = "Federated rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

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
    System.exit(LearnerMain.commandLine(new LocalFederation()).execute(args));
  }

  /** Returns the result of the last run, for tests. */
  TrainingResult result() {
    return result;
  }

  @Override
  public Integer call() throws Exception {
    options.validate();
    FashionMnist data = options.load();
    String setup = String.format(Locale.ROOT,
        "Fashion-MNIST federation: %d learners (%s partition), %d rounds, %d local epoch(s); %s",
        options.learners, options.partition, rounds, options.localEpochs,
        data.source().description());
    log.info(setup);

    FedAvg strategy = FedAvg.builder()
        .rounds(rounds)
        .minAvailableLearners(options.learners)
        .fitConfig(round -> Config.of(
            Dl4jTrainer.LOCAL_EPOCHS, options.localEpochs, Dl4jTrainer.BATCH_SIZE, options.batchSize))
        .evaluateConfig(round -> Config.of(Dl4jTrainer.BATCH_SIZE, 1000))
        .build();
    long start = System.nanoTime();
    try (Aggregator aggregator = tracking.apply(Aggregator.builder())
        .host("127.0.0.1")
        .port(port)
        .model(options.newModel())
        .strategy(strategy)
        .learnerWaitTimeout(Duration.ofMinutes(5))
        .build()
        .start()) {
      List<CompletableFuture<Void>> learners = new ArrayList<>();
      for (int i = 0; i < options.learners; i++) {
        Learner learner = Learner.builder()
            .aggregator("127.0.0.1", aggregator.port())
            .name("fashion-" + i)
            .trainer(options.trainer(data, i))
            .build();
        learners.add(learner.runAsync());
      }
      result = aggregator.train();
      for (CompletableFuture<Void> learner : learners) {
        learner.get(1, TimeUnit.MINUTES);
      }
    }
    printSummary(setup, Duration.ofNanos(System.nanoTime() - start));
    return 0;
  }

  private void printSummary(String setup, Duration wall) {
    out.println();
    out.println(setup);
    out.println("round  fit ok/failed  evaluate ok/failed  loss    accuracy  duration");
    for (RoundSummary round : result.rounds()) {
      out.printf(Locale.ROOT, "%5d  %6d/%-6d  %11d/%-6d  %.4f  %.4f    %.1f s%n", round.round(),
          round.fitSucceeded(), round.fitFailed(), round.evaluateSucceeded(),
          round.evaluateFailed(), round.loss(), round.accuracy(),
          round.duration().toMillis() / 1000.0);
    }
    result.best().ifPresent(best -> out.printf(Locale.ROOT,
        "best round: %d (accuracy %.4f, loss %.4f); final accuracy %.4f; wall time %.1f s%n",
        best.round(), best.accuracy(), best.loss(), result.finalRound().accuracy(),
        wall.toMillis() / 1000.0));    result.trackingInfo().ifPresent(info -> {
      // "tracked" only when the backend has the runs; else what waits and how to deliver it.
      if (info.tracked()) {
        out.printf("tracked in MLflow at %s: experiment %s, parent run %s, best round's run %s%n",
            info.trackingUri(), info.experimentId(), info.parentRunId(), info.bestRoundRunId());
      } else {
        out.printf("not tracked yet: nothing reached MLflow at %s%n", info.trackingUri());
      }
      if (info.tracked() && info.trackingUri().startsWith("file:")) {
        out.printf("view it: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri %s%n",
            info.trackingUri());
      }
      info.pendingOutbox().ifPresent(outbox -> out.printf("%d tracking call(s) wait in %s; the "
              + "next aggregator tracking to %s delivers them, or now: flops-aggregator "
              + "flush-tracking --outbox %s --tracking-uri %s%n", info.unsent().stream()
              .filter(u -> u.contains("kept in the outbox")).count(), outbox,
          info.trackingUri(), outbox, info.trackingUri()));
      long refused = info.unsent().stream().filter(u -> !u.contains("kept in the outbox"))
          .count();
      if (refused > 0) {
        out.printf("%d tracking call(s) were refused and dropped: %s%n", refused,
            String.join("; ", info.unsent()));
      }
    });
  }
}
