package dev.flops.benchmarks.harness;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.AggregatorThreadsOptions;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.Bulyan;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FedMedian;
import dev.flops.api.strategy.FedTrimmedAvg;
import dev.flops.api.strategy.Krum;
import dev.flops.api.strategy.MultiKrum;
import dev.flops.api.strategy.Strategy;
import dev.flops.benchmarks.synthetic.SyntheticModel;
import dev.flops.benchmarks.synthetic.SyntheticParameters;
import dev.flops.learner.LearnerMain;
import dev.flops.proto.codec.FlopsVersion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The aggregator process of the round harness: FedAvg (or the robust strategy of
 * {@code --strategy}) over a synthetic model of {@code P} float32 parameters, built with the public {@link Aggregator#builder()} API, every learner sampled every
 * round. It prints {@link HarnessLine}s for {@link RoundHarness}: its port once it listens, then
 * one line per round (the round's {@link RoundSummary#duration()} and the peak RSS so far), then
 * its peak RSS ({@code VmHWM}) at the end.
 */
@Command(name = "harness-aggregator", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "The aggregator process of the round harness (started by RoundHarness).")
public final class HarnessAggregatorMain implements Callable<Integer> {

  @Option(names = {"-P", "--params"}, required = true, description = "Model size, float32 values.")
  long params;

  @Option(names = {"-N", "--learners"}, required = true,
      description = "Learners to wait for and sample each round.")
  int learners;

  @Option(names = "--rounds", defaultValue = "3", description = "Rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--host", defaultValue = "127.0.0.1",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "0",
      description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--max-tensor-elements",
      defaultValue = "" + SyntheticParameters.DEFAULT_MAX_TENSOR_ELEMENTS,
      description = "Largest tensor of the synthetic model (default: ${DEFAULT-VALUE}).")
  int maxTensorElements;

  @Mixin
  AggregatorThreadsOptions nativeThreads = new AggregatorThreadsOptions();

  @Option(names = "--kernel", defaultValue = "nd4j",
      description = "Averaging kernel: nd4j or java (default: ${DEFAULT-VALUE}).")
  String kernel;

  @Option(names = "--max-in-flight", defaultValue = "2",
      description = "maxInFlightUploads (default: ${DEFAULT-VALUE}).")
  int maxInFlight;

  @Option(names = "--learner-wait", defaultValue = "900",
      description = "Seconds to wait for all learners to connect (default: ${DEFAULT-VALUE}).")
  long learnerWaitSeconds;

  @Option(names = "--round-timeout", defaultValue = "1200",
      description = "Seconds a fit or evaluate task may take (default: ${DEFAULT-VALUE}).")
  long roundTimeoutSeconds;

  @Option(names = "--strategy", defaultValue = "fedavg",
      description = "fedavg, fedmedian, fedtrimmedavg, krum, multikrum or bulyan "
          + "(default: ${DEFAULT-VALUE}).")
  String strategy;

  @Option(names = "--byzantine", defaultValue = "0",
      description = "f of krum, multikrum and bulyan (default: ${DEFAULT-VALUE}).")
  int byzantine;

  @Option(names = "--staging-dir", paramLabel = "DIR",
      description = "Where the robust strategies stage updates (default: flops-staging under "
          + "java.io.tmpdir).")
  Path stagingDir;

  @Option(names = "--exit-with-parent",
      description = "Exit when the parent process (the harness) exits.")
  boolean exitWithParent;

  /**
   * Runs the aggregator process.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(LearnerMain.commandLine(new HarnessAggregatorMain()).execute(args));
  }

  static AveragingKernel kernel(String name) {
    return switch (name) {
      case "nd4j" -> new Nd4jAveraging();
      case "java" -> new JavaAveraging();
      default -> throw new IllegalArgumentException(
          "unknown --kernel '" + name + "'; choose nd4j or java");
    };
  }

  /**
   * Makes the strategy named by {@code --strategy}, with FedAvg's settings from {@code base}.
   *
   * @throws IllegalArgumentException if the name is unknown or a knob is out of range
   */
  static Strategy strategy(String name, int byzantine, Path stagingDir, FedAvg.Builder base) {
    Path staging = stagingDir != null ? stagingDir
        : Path.of(System.getProperty("java.io.tmpdir"), "flops-staging");
    return switch (name) {
      case "fedavg" -> base.build();
      case "fedmedian" -> FedMedian.builder().stagingDirectory(staging).base(base).build();
      case "fedtrimmedavg" ->
          FedTrimmedAvg.builder().stagingDirectory(staging).base(base).build();
      case "krum" -> Krum.builder().byzantine(byzantine).stagingDirectory(staging)
          .base(base).build();
      case "multikrum" -> MultiKrum.builder().byzantine(byzantine).stagingDirectory(staging)
          .base(base).build();
      case "bulyan" -> Bulyan.builder().byzantine(byzantine).stagingDirectory(staging)
          .base(base).build();
      default -> throw new IllegalArgumentException("unknown --strategy '" + name + "'; choose "
          + "fedavg, fedmedian, fedtrimmedavg, krum, multikrum or bulyan");
    };
  }

  @Override
  public Integer call() throws Exception {
    if (exitWithParent) {
      ChildProcesses.exitWithParent();
    }
    DirectBuffers.startSampling();
    AveragingKernel averaging = kernel(kernel);
    FedAvg.Builder base = FedAvg.builder()
        .fractionFit(1.0)
        .fractionEvaluate(1.0)
        .minFitLearners(learners)
        .minEvaluateLearners(learners)
        .acceptFailures(true);
    Strategy strategy = strategy(this.strategy, byzantine, stagingDir, base);
    TrainingPlan plan = TrainingPlan.builder()
        .rounds(rounds)
        .minFitResults(learners)
        .minEvaluateResults(learners)
        .minAvailableLearners(learners)
        .roundTimeout(Duration.ofSeconds(roundTimeoutSeconds))
        .learnerWait(Duration.ofSeconds(learnerWaitSeconds))
        .observer(new RoundPrinter())
        // The harness measures the federation's transport and memory: no MLflow run, and no
        // reference to the best round's parameters kept for logging its model at the end.
        .tracking(Tracking.off())
        .build();
    Parameters initial = SyntheticParameters.create(params, maxTensorElements, 42);
    try (Aggregator aggregator = nativeThreads.applyTo(Aggregator.builder())
        .host(host)
        .port(port)
        .model(new SyntheticModel(initial))
        .averagingKernel(averaging)
        .maxInFlightUploads(maxInFlight)
        // Every learner dials from 127.0.0.1 here; each holds its control stream and at most one
        // transfer, so lift the per-address flood limit (256 calls) above what N learners need.
        .maxCallsPerAddress(Math.max(256, 4 * learners + 16))
        .maxCalls(Math.max(4096, 4 * learners + 16))
        .build()
        .start()) {
      emit("listening", Map.of("port", aggregator.port(), "tensors",
          SyntheticParameters.layout(params, maxTensorElements).length));
      TrainingResult result = aggregator.train(plan, strategy);
      emit("done", Map.of("rounds", result.rounds().size(),
          "peak_rss_mb", ChildProcesses.mb(ProcStatus.ownPeakRss())));
      return result.rounds().size() == rounds ? 0 : 1;
    }
  }

  private static void emit(String event, Map<String, ?> fields) {
    System.out.println(HarnessLine.format(event, fields));
    System.out.flush();
  }

  /**
   * Prints each round's wall time as the aggregator measures it ({@link RoundSummary#duration()}:
   * from the start of the round, including its wait for learners, to the end of its federated
   * evaluation), and the gap since the previous round finished, which also holds the bookkeeping
   * between rounds.
   */
  private static final class RoundPrinter implements FederationObserver {
    private long last;

    @Override
    public void onTrainingStarted(TrainingStarted event) {
      last = System.nanoTime();
    }

    @Override
    public void onRoundFinished(RoundSummary summary) {
      long now = System.nanoTime();
      Map<String, Object> fields = new LinkedHashMap<>();
      fields.put("round", summary.round());
      fields.put("seconds", seconds(summary.duration().toNanos()));
      fields.put("gap_seconds", seconds(now - last));
      fields.put("fit_ok", summary.fitSucceeded());
      fields.put("fit_failed", summary.fitFailed());
      fields.put("evaluate_ok", summary.evaluateSucceeded());
      fields.put("evaluate_failed", summary.evaluateFailed());
      long rss = ProcStatus.ownRss(); // first: the peak read after it is at least as high
      fields.put("peak_rss_mb", ChildProcesses.mb(ProcStatus.ownPeakRss()));
      fields.put("rss_mb", ChildProcesses.mb(rss));
      DirectBuffers.snapshot().forEach(fields::put);
      last = now;
      emit("round", fields);
      summary.failures().forEach(f -> System.err.println("round " + summary.round()
          + " failure: " + f));
    }
  }

  private static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.4f", nanos / 1e9);
  }
}
