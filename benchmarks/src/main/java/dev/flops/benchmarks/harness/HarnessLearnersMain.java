package dev.flops.benchmarks.harness;

import dev.flops.benchmarks.synthetic.SyntheticModel;
import dev.flops.benchmarks.synthetic.SyntheticTrainer;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerMain;
import dev.flops.proto.codec.FlopsVersion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A learner process of the round harness: runs {@code --count} synthetic learners (one, or several
 * sharing this JVM for the scale run) until the aggregator shuts them down, then prints how many
 * ended well and this JVM's peak RSS ({@code VmHWM}).
 */
@Command(name = "harness-learners", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Learner process of the round harness (started by RoundHarness).")
public final class HarnessLearnersMain implements Callable<Integer> {

  @Option(names = "--aggregator", required = true, paramLabel = "HOST:PORT",
      description = "The aggregator's address.")
  String aggregator;

  @Option(names = "--count", defaultValue = "1",
      description = "Learners in this JVM (default: ${DEFAULT-VALUE}).")
  int count;

  @Option(names = "--first-index", defaultValue = "0",
      description = "Index of the first learner here: names and noise seeds (default: ${DEFAULT-VALUE}).")
  int firstIndex;

  @Option(names = "--noise", defaultValue = "" + SyntheticTrainer.DEFAULT_NOISE,
      description = "Noise amplitude added by fit (default: ${DEFAULT-VALUE}).")
  float noise;

  @Option(names = "--connect-timeout", defaultValue = "900",
      description = "Seconds to keep retrying an unreachable aggregator (default: ${DEFAULT-VALUE}).")
  long connectTimeoutSeconds;

  @Option(names = "--exit-with-parent",
      description = "Exit when the parent process (the harness) exits.")
  boolean exitWithParent;

  /**
   * Runs the learner process.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(LearnerMain.commandLine(new HarnessLearnersMain()).execute(args));
  }

  @Override
  public Integer call() throws InterruptedException {
    if (count < 1) {
      throw new IllegalArgumentException("--count must be at least 1 but was " + count);
    }
    if (exitWithParent) {
      ChildProcesses.exitWithParent();
    }
    List<CompletableFuture<Void>> running = new ArrayList<>(count);
    for (int i = firstIndex; i < firstIndex + count; i++) {
      running.add(Learner.builder()
          .aggregator(aggregator)
          .name("bench-" + i)
          .trainer(new SyntheticTrainer(SyntheticModel.empty(), i, noise))
          .connectTimeout(Duration.ofSeconds(connectTimeoutSeconds))
          .backoff(Duration.ofMillis(100), Duration.ofSeconds(2))
          .seed(i)
          .build()
          .runAsync());
    }
    int failed = 0;
    for (CompletableFuture<Void> learner : running) {
      try {
        learner.get();
      } catch (ExecutionException e) {
        failed++; // the learner has logged why
      }
    }
    System.out.println(HarnessLine.format("learners", Map.of("ok", count - failed,
        "failed", failed, "peak_rss_mb", ChildProcesses.mb(ProcStatus.ownPeakRss()))));
    System.out.flush();
    return failed == 0 ? 0 : 1;
  }
}
