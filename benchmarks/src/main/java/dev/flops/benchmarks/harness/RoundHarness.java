package dev.flops.benchmarks.harness;

import dev.flops.api.strategy.FedAvg;
import dev.flops.benchmarks.synthetic.SyntheticParameters;
import dev.flops.benchmarks.synthetic.SyntheticTrainer;
import dev.flops.learner.LearnerMain;
import dev.flops.proto.codec.FlopsVersion;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The round harness: starts an aggregator JVM ({@link HarnessAggregatorMain}) and the learner
 * JVMs ({@link HarnessLearnersMain}) on loopback with a synthetic model of {@code P} float32
 * parameters, runs the rounds, and prints one line:
 *
 * <pre>
 * ROUND_BENCH P=&lt;p&gt; N=&lt;n&gt; rounds=10 round_s=&lt;median of rounds 6-10&gt; warmup_rounds=5 server_peak_rss_mb=&lt;m&gt; ...
 * </pre>
 *
 * <p>or {@code ROUND_BENCH_FAILED ... reason=<text>} and exit status 1. Round times are the
 * aggregator's {@code RoundSummary.duration()}; the peak RSS is the aggregator process's
 * {@code VmHWM} from {@code /proc}. Child output goes to log files (the directory is printed on
 * standard error). Every child is destroyed when the harness ends, and halts by itself if the
 * harness is killed. A watchdog stops the run when the machine's {@code MemAvailable} falls below
 * {@code --min-mem-available-mb}, before the kernel's OOM killer picks a victim.
 *
 * <pre>
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     dev.flops.benchmarks.harness.RoundHarness -P 10000000 -N 10
 * </pre>
 *
 * <p>{@code benchmarks/round-bench.sh} runs the benchmark matrix with it.
 */
@Command(name = "round-harness", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class, sortOptions = false,
    description = "Runs an aggregator and N learner processes on loopback with a synthetic "
        + "model of P float32 parameters and prints one ROUND_BENCH line.")
public final class RoundHarness implements java.util.concurrent.Callable<Integer> {
  private static final Pattern TROUBLE = Pattern.compile(
      "OutOfMemoryError|RESOURCE_EXHAUSTED|DEADLINE_EXCEEDED|Exception|ERROR|WARN|refused");

  @Option(names = {"-P", "--params"}, required = true,
      description = "Model size in float32 parameters.")
  long params;

  @Option(names = {"-N", "--learners"}, required = true, description = "Learner count.")
  int learners;

  @Option(names = "--rounds", defaultValue = "10", description = "Rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--warmup-rounds", defaultValue = "5",
      description = "Leading rounds left out of round_s, the median of the rest: round 1 waits "
          + "for the learners to connect, the next ones run code the JIT has not compiled yet; "
          + "below --rounds (default: ${DEFAULT-VALUE}).")
  int warmupRounds;

  @Option(names = "--learners-per-jvm", defaultValue = "1",
      description = "Learners sharing one learner JVM (default: ${DEFAULT-VALUE}).")
  int learnersPerJvm;

  @Option(names = "--host", defaultValue = "127.0.0.1",
      description = "Aggregator address (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "0",
      description = "Aggregator port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--kernel", defaultValue = "nd4j",
      description = "Averaging kernel: nd4j or java (default: ${DEFAULT-VALUE}).")
  String kernel;

  @Option(names = "--aggregator-native-threads", defaultValue = "1", paramLabel = "N|nd4j",
      description = "The aggregator's --native-threads (default: ${DEFAULT-VALUE}, as "
          + "AggregatorMain's; nd4j: ND4J's own sizing, one per core).")
  String aggregatorNativeThreads;

  @Option(names = "--strategy", defaultValue = "fedavg",
      description = "The aggregator's strategy: fedavg, fedmedian, fedtrimmedavg, krum, multikrum "
          + "or bulyan (default: ${DEFAULT-VALUE}).")
  String strategy;

  @Option(names = "--byzantine", defaultValue = "0",
      description = "f of krum, multikrum and bulyan (default: ${DEFAULT-VALUE}).")
  int byzantine;

  @Option(names = "--max-in-flight", defaultValue = "2",
      description = "The aggregator's maxInFlightUploads (default: ${DEFAULT-VALUE}).")
  int maxInFlight;

  @Option(names = "--max-tensor-elements",
      defaultValue = "" + SyntheticParameters.DEFAULT_MAX_TENSOR_ELEMENTS,
      description = "Largest tensor of the synthetic model (default: ${DEFAULT-VALUE}).")
  int maxTensorElements;

  @Option(names = "--noise", defaultValue = "" + SyntheticTrainer.DEFAULT_NOISE,
      description = "Noise amplitude the learners add (default: ${DEFAULT-VALUE}).")
  float noise;

  @Option(names = "--aggregator-jvm-opt", paramLabel = "FLAG",
      description = "Extra aggregator JVM flag, after the defaults so it wins (repeatable).")
  List<String> aggregatorJvmOpts = new ArrayList<>();

  @Option(names = "--learner-jvm-opt", paramLabel = "FLAG",
      description = "Extra learner JVM flag, after the defaults so it wins (repeatable).")
  List<String> learnerJvmOpts = new ArrayList<>();

  @Option(names = "--profile-dir", paramLabel = "DIR",
      description = "Record JFR (settings=profile) of the aggregator and the first learner JVM "
          + "into DIR/aggregator.jfr and DIR/learners-0.jfr.")
  Path profileDir;

  @Option(names = "--profile-settings", defaultValue = "profile", paramLabel = "JFC",
      description = "JFR settings for --profile-dir: a name (profile, default) or a .jfc file, "
          + "e.g. one with a 1 ms jdk.ExecutionSample period (default: ${DEFAULT-VALUE}).")
  String profileSettings;

  @Option(names = "--profile-delay", defaultValue = "0s", paramLabel = "TIME",
      description = "Start the JFR recordings this long after each JVM starts, e.g. 20s to leave "
          + "out start-up and the first rounds (default: ${DEFAULT-VALUE}).")
  String profileDelay;

  @Option(names = "--log-dir", paramLabel = "DIR",
      description = "Directory for the child processes' logs (default: a new temporary one).")
  Path logDir;

  @Option(names = "--timeout", defaultValue = "1800",
      description = "Seconds the whole run may take (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Option(names = "--min-mem-available-mb", defaultValue = "1024",
      description = "Stop the run when the machine's MemAvailable falls below this many MiB "
          + "(default: ${DEFAULT-VALUE}).")
  long minMemAvailableMib;

  private final List<Process> children = new CopyOnWriteArrayList<>();

  /**
   * Runs the harness.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(LearnerMain.commandLine(new RoundHarness()).execute(args));
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    Thread cleanup = new Thread(this::destroyChildren, "round-harness-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      RoundBenchResult result = run();
      System.out.println(result.line());
      return 0;
    } catch (RunFailure failure) {
      System.out.println(failure.line(params, learners));
      System.err.println("round harness: " + failure.getMessage());
      return 1;
    } finally {
      destroyChildren();
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run
      }
    }
  }

  RoundBenchResult run() throws IOException, InterruptedException {
    validate();
    Path logs = logDir != null ? Files.createDirectories(logDir)
        : Files.createTempDirectory("round-bench-");
    double loadStart = ProcStatus.loadAverage();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    int jvms = (learners + learnersPerJvm - 1) / learnersPerJvm;
    List<String> aggregatorFlags = flags(JvmFlags.aggregator(params, maxInFlight, learners), "aggregator",
        aggregatorJvmOpts);
    List<String> learnerFlags = flags(JvmFlags.learner(params, learnersPerJvm), null,
        learnerJvmOpts);
    System.err.printf(Locale.ROOT, "round harness: P=%d N=%d in %d learner JVM(s); logs in %s%n"
            + "  aggregator flags: %s%n  learner flags: %s%n", params, learners, jvms, logs,
        String.join(" ", aggregatorFlags), String.join(" ", learnerFlags));

    Process aggregator = start(aggregatorFlags, HarnessAggregatorMain.class, List.of(
        "-P", Long.toString(params), "-N", Integer.toString(learners),
        "--rounds", Integer.toString(rounds), "--host", host, "--port", Integer.toString(port),
        "--kernel", kernel, "--max-tensor-elements", Integer.toString(maxTensorElements),
        "--max-in-flight", Integer.toString(maxInFlight),
        "--strategy", strategy, "--byzantine", Integer.toString(byzantine),
        "--native-threads", aggregatorNativeThreads,
        "--exit-with-parent"), null);
    Watch watch = new Watch(aggregator, logs.resolve("aggregator.log"), deadline);
    HarnessLine listening = watch.awaitListening();

    List<Process> learnerJvms = new ArrayList<>(jvms);
    for (int j = 0; j < jvms; j++) {
      int first = j * learnersPerJvm;
      List<String> jvmFlags = j == 0 ? flags(learnerFlags, "learners-0", List.of()) : learnerFlags;
      learnerJvms.add(start(jvmFlags, HarnessLearnersMain.class, List.of(
          "--aggregator", host + ":" + listening.getInt("port"),
          "--count", Integer.toString(Math.min(learnersPerJvm, learners - first)),
          "--first-index", Integer.toString(first),
          "--noise", Float.toString(noise),
          "--exit-with-parent"), learnerLog(logs, j)));
    }
    watch.untilAggregatorExits(learnerJvms);

    if (aggregator.exitValue() != 0 || watch.rounds.size() != rounds || watch.done == null) {
      throw watch.failure(String.format(Locale.ROOT,
          "the aggregator exited with status %d after %d of %d rounds%s",
          aggregator.exitValue(), watch.rounds.size(), rounds, trouble(logs)));
    }
    Map<String, String> extra = new LinkedHashMap<>();
    List<Double> seconds = new ArrayList<>();
    List<String> gaps = new ArrayList<>();
    List<String> peakRss = new ArrayList<>();
    List<String> rss = new ArrayList<>();
    int fitFailed = 0;
    int evaluateFailed = 0;
    for (HarnessLine round : watch.rounds) {
      seconds.add(round.getDouble("seconds"));
      gaps.add(round.get("gap_seconds"));
      peakRss.add(round.get("peak_rss_mb"));
      rss.add(round.get("rss_mb"));
      fitFailed += round.getInt("fit_failed");
      evaluateFailed += round.getInt("evaluate_failed");
    }
    LearnerPeaks peaks = learnerPeaks(learnerJvms, logs);
    extra.put("gaps_s", String.join(",", gaps));
    // The aggregator's VmHWM after each round: whether its memory stays flat over rounds.
    extra.put("peak_rss_by_round_mb", String.join(",", peakRss));
    // Its VmRSS when each round ended: what it holds between rounds, without the peaks within.
    extra.put("rss_by_round_mb", String.join(",", rss));
    extra.put("fit_failed", Integer.toString(fitFailed));
    extra.put("evaluate_failed", Integer.toString(evaluateFailed));
    extra.put("kernel", kernel);
    extra.put("strategy", strategy);
    extra.put("aggregator_native_threads", aggregatorNativeThreads);
    extra.put("max_in_flight", Integer.toString(maxInFlight));
    extra.put("tensors", listening.get("tensors"));
    extra.put("learner_jvms", Integer.toString(jvms));
    extra.put("learner_peak_rss_mb", peaks.max);
    extra.put("learner_rss_sum_mb", peaks.sum);
    extra.put("agg_xmx", lastFlag(aggregatorFlags, "-Xmx"));
    extra.put("learner_xmx", lastFlag(learnerFlags, "-Xmx"));
    extra.put("min_mem_available_mb", Long.toString(watch.minMemAvailable >> 20));
    extra.put("load1_start", String.format(Locale.ROOT, "%.2f", loadStart));
    extra.put("load1_end", String.format(Locale.ROOT, "%.2f", ProcStatus.loadAverage()));
    double peak = watch.done.getDouble("peak_rss_mb");
    return new RoundBenchResult(params, learners, seconds, warmupRounds, peak, extra);
  }

  private void validate() {
    if (params < 1 || learners < 1 || rounds < 1 || learnersPerJvm < 1) {
      throw new IllegalArgumentException(String.format(
          "-P, -N, --rounds and --learners-per-jvm must be at least 1 but were %d, %d, %d, %d",
          params, learners, rounds, learnersPerJvm));
    }
    if (warmupRounds < 0 || warmupRounds >= rounds) {
      throw new IllegalArgumentException(String.format(
          "--warmup-rounds must be 0 to --rounds - 1 (%d) but was %d: at least one round must "
              + "be left to measure; raise --rounds", rounds - 1, warmupRounds));
    }
    SyntheticParameters.layout(params, maxTensorElements);
    HarnessAggregatorMain.kernel(kernel);
    HarnessAggregatorMain.strategy(strategy, byzantine, null, FedAvg.builder());
  }

  /** Default flags, then a JFR recording if profiling this process, then the user's flags. */
  private List<String> flags(List<String> defaults, String recording, List<String> extra) {
    List<String> flags = new ArrayList<>(defaults);
    if (profileDir != null && recording != null) {
      try {
        Files.createDirectories(profileDir);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create --profile-dir " + profileDir, e);
      }
      flags.add("-XX:StartFlightRecording=settings=" + profileSettings + ",delay=" + profileDelay
          + ",dumponexit=true,filename="
          + profileDir.resolve(recording + ".jfr").toAbsolutePath());
    }
    flags.addAll(extra);
    return flags;
  }

  private static String lastFlag(List<String> flags, String prefix) {
    String value = "default";
    for (String flag : flags) {
      if (flag.startsWith(prefix)) {
        value = flag.substring(prefix.length());
      }
    }
    return value;
  }

  private static Path learnerLog(Path logs, int jvm) {
    return logs.resolve("learners-" + jvm + ".log");
  }

  private Process start(List<String> flags, Class<?> main, List<String> args, Path log)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(flags);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    if (log != null) {
      builder.redirectOutput(log.toFile());
    }
    Process process = builder.start();
    children.add(process);
    return process;
  }

  void destroyChildren() {
    for (Process child : children) {
      child.descendants().forEach(ProcessHandle::destroyForcibly);
      child.destroyForcibly();
    }
    for (Process child : children) {
      try {
        child.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private record LearnerPeaks(String max, String sum) {}

  /** Waits for the learner JVMs to exit and reads the peak RSS each reported. */
  private static LearnerPeaks learnerPeaks(List<Process> jvms, Path logs)
      throws InterruptedException, IOException {
    double max = 0;
    double sum = 0;
    for (int j = 0; j < jvms.size(); j++) {
      if (!jvms.get(j).waitFor(60, TimeUnit.SECONDS)) {
        throw new RunFailure("learner JVM " + j + " did not exit within 60 s of the aggregator"
            + tail(learnerLog(logs, j)), -1, 0);
      }
      Optional<HarnessLine> report;
      try (Stream<String> lines = Files.lines(learnerLog(logs, j))) {
        report = lines.map(HarnessLine::parse).flatMap(Optional::stream)
            .filter(line -> line.event().equals("learners")).reduce((a, b) -> b);
      }
      if (report.isEmpty() || report.get().getInt("failed") > 0) {
        throw new RunFailure("learner JVM " + j + " did not end well (status "
            + jvms.get(j).exitValue() + ")" + tail(learnerLog(logs, j)), -1, 0);
      }
      double peak = report.get().getDouble("peak_rss_mb");
      max = Math.max(max, peak);
      sum += peak;
    }
    return new LearnerPeaks(String.format(Locale.ROOT, "%.1f", max),
        String.format(Locale.ROOT, "%.1f", sum));
  }

  /**
   * Lines of the logs that name a known kind of trouble, with the top frames of an
   * OutOfMemoryError's stack trace, for the failure message.
   */
  private static String trouble(Path logs) throws IOException {
    List<String> found = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> listed = Files.list(logs)) {
      files = listed.filter(f -> f.toString().endsWith(".log")).sorted()
          .collect(Collectors.toList());
    }
    for (Path file : files) {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      int kept = 0;
      for (int i = 0; i < lines.size() && kept < 3; i++) {
        if (TROUBLE.matcher(lines.get(i)).find()) {
          found.add(file.getFileName() + ": " + lines.get(i));
          kept++;
          for (int k = i + 1; lines.get(i).contains("OutOfMemoryError") && k < lines.size()
              && k <= i + 4 && lines.get(k).startsWith("\tat "); k++) {
            found.add(file.getFileName() + ": " + lines.get(k));
          }
        }
      }
      if (found.size() >= 20) {
        break;
      }
    }
    return found.isEmpty() ? "" : "\n  " + String.join("\n  ", found);
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return "; its log " + log + " ends:\n  "
          + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "; its log " + log + " is unreadable: " + e.getMessage();
    }
  }

  /** A run that could not produce a result; its line keeps what was measured until then. */
  static final class RunFailure extends RuntimeException {
    private final double serverPeakRssMib;
    private final int roundsDone;

    RunFailure(String message, double serverPeakRssMib, int roundsDone) {
      super(message);
      this.serverPeakRssMib = serverPeakRssMib;
      this.roundsDone = roundsDone;
    }

    String line(long params, int learners) {
      String reason = getMessage().lines().findFirst().orElse("").replace(' ', '_');
      return String.format(Locale.ROOT,
          "ROUND_BENCH_FAILED P=%d N=%d rounds_done=%d server_peak_rss_mb=%s reason=%s",
          params, learners, roundsDone,
          serverPeakRssMib < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", serverPeakRssMib),
          reason);
    }
  }

  /**
   * Copies the aggregator's output to its log and collects its harness lines, while sampling its
   * peak RSS and the machine's available memory.
   */
  private final class Watch {
    private final Process aggregator;
    private final Path logs;
    private final long deadline;
    private final Thread reader;
    private final List<HarnessLine> rounds = new CopyOnWriteArrayList<>();
    private volatile HarnessLine listening;
    private volatile HarnessLine done;
    private volatile double lastPeakMib = -1;
    private volatile long outOfMemorySeen;
    private long minMemAvailable = Long.MAX_VALUE;

    Watch(Process aggregator, Path log, long deadline) {
      this.aggregator = aggregator;
      this.logs = log.getParent();
      this.deadline = deadline;
      this.reader = new Thread(() -> copy(log), "round-harness-aggregator-output");
      reader.setDaemon(true);
      reader.start();
    }

    private void copy(Path log) {
      try (BufferedReader in = new BufferedReader(
              new InputStreamReader(aggregator.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter out = new PrintWriter(Files.newBufferedWriter(log), true)) {
        String line;
        while ((line = in.readLine()) != null) {
          out.println(line);
          if (outOfMemorySeen == 0 && line.contains("java.lang.OutOfMemoryError")) {
            outOfMemorySeen = System.nanoTime();
          }
          Optional<HarnessLine> parsed = HarnessLine.parse(line);
          if (parsed.isEmpty()) {
            continue;
          }
          HarnessLine event = parsed.get();
          switch (event.event()) {
            case "listening" -> listening = event;
            case "round" -> {
              rounds.add(event);
              System.err.println("  " + line.substring(HarnessLine.PREFIX.length()));
            }
            case "done" -> done = event;
            default -> out.println("(unknown harness event " + event.event() + ")");
          }
        }
      } catch (IOException e) {
        System.err.println("round harness: reading the aggregator's output failed: " + e);
      }
    }

    HarnessLine awaitListening() throws InterruptedException, IOException {
      while (listening == null) {
        check(List.of());
        if (!aggregator.isAlive()) {
          reader.join(2000);
          if (listening == null) {
            throw failure("the aggregator exited with status " + aggregator.exitValue()
                + " before listening" + tail(logs.resolve("aggregator.log")));
          }
        }
        Thread.sleep(20);
      }
      return listening;
    }

    void untilAggregatorExits(List<Process> learnerJvms) throws InterruptedException, IOException {
      while (!aggregator.waitFor(100, TimeUnit.MILLISECONDS)) {
        check(learnerJvms);
      }
      reader.join(5000);
    }

    private void check(List<Process> learnerJvms) throws IOException {
      ProcStatus.peakRss(aggregator.pid()).ifPresent(bytes -> lastPeakMib = bytes / 1048576.0);
      long available = ProcStatus.memAvailable().orElse(Long.MAX_VALUE);
      minMemAvailable = Math.min(minMemAvailable, available);
      if (available < (minMemAvailableMib << 20)) {
        throw failure(String.format(Locale.ROOT,
            "the machine's MemAvailable fell to %d MiB (limit %d MiB): stopped the run before "
                + "the OOM killer would; aggregator RSS %s MiB, learner JVMs' RSS %s MiB in all",
            available >> 20, minMemAvailableMib, rss(List.of(aggregator)), rss(learnerJvms)));
      }
      // An OutOfMemoryError on a gRPC thread kills that thread, and the round would wait for its
      // task until the round timeout; give the stack trace a second to reach the log, then stop.
      if (outOfMemorySeen != 0 && System.nanoTime() - outOfMemorySeen > 1_000_000_000L) {
        throw failure("the aggregator ran out of memory" + trouble(logs));
      }
      for (int j = 0; j < learnerJvms.size(); j++) {
        Process jvm = learnerJvms.get(j);
        if (!jvm.isAlive() && jvm.exitValue() != 0) {
          throw failure("learner JVM " + j + " exited with status " + jvm.exitValue()
              + " while the aggregator runs" + tail(learnerLog(logs, j)));
        }
      }
      if (System.nanoTime() > deadline) {
        throw failure("the run took longer than --timeout " + timeoutSeconds + " s"
            + trouble(logs));
      }
    }

    private String rss(List<Process> processes) {
      long total = 0;
      for (Process process : processes) {
        total += ProcStatus.rss(process.pid()).orElse(0);
      }
      return Long.toString(total >> 20);
    }

    RunFailure failure(String message) {
      return new RunFailure(message, lastPeakMib, rounds.size());
    }
  }
}
