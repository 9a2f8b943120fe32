package dev.flops.benchmarks;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link AveragingKernelBenchmark}, {@link BandwidthReferenceBenchmark} and
 * {@link Nd4jStepsBenchmark} in one JMH run and prints, for each kernel and size, the time to fold
 * one update, the update bytes folded per second, the same for the bandwidth reference, and their
 * ratio. One {@code KERNEL_BENCH} line per kernel and size is meant for scripts.
 *
 * <p>GB are 10^9 bytes. An update of {@code P} floats is {@code 4P} bytes; the reference moves
 * {@code 12P} bytes per call (reads {@code a} and {@code b}, writes {@code a}), reported both as
 * bytes moved and as update-equivalent {@code 4P / time}, which is what the ratio compares.
 *
 * <pre>
 * mvn -B -q -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     dev.flops.benchmarks.KernelReport
 * </pre>
 *
 * Any JMH command-line option may follow (for example {@code -p size=10000000} or {@code -i 10});
 * the annotations' defaults apply otherwise.
 */
public final class KernelReport {

  private static final String KERNEL = AveragingKernelBenchmark.class.getName() + ".fold";
  private static final String TRIAD = BandwidthReferenceBenchmark.class.getName() + ".triad";
  private static final String STEPS = Nd4jStepsBenchmark.class.getName() + ".";

  private KernelReport() {}

  public static void main(String[] args) throws RunnerException, CommandLineOptionException {
    Options options = new OptionsBuilder()
        .parent(new CommandLineOptions(args))
        .include(AveragingKernelBenchmark.class.getSimpleName() + "\\.")
        .include(BandwidthReferenceBenchmark.class.getSimpleName() + "\\.")
        .include(Nd4jStepsBenchmark.class.getSimpleName() + "\\.")
        .build();
    Collection<RunResult> results = new Runner(options).run();
    print(results);
  }

  private static void print(Collection<RunResult> results) {
    // size -> reference ms; (kernel, size) -> ms; (step, size) -> ms
    Map<Integer, Result<?>> triad = new TreeMap<>();
    Map<String, Map<Integer, Result<?>>> kernels = new TreeMap<>();
    Map<String, Map<Integer, Result<?>>> steps = new TreeMap<>();
    for (RunResult run : results) {
      String benchmark = run.getParams().getBenchmark();
      int size = Integer.parseInt(run.getParams().getParam("size"));
      Result<?> score = run.getPrimaryResult();
      if (benchmark.equals(TRIAD)) {
        triad.put(size, score);
      } else if (benchmark.equals(KERNEL)) {
        String name = run.getParams().getParam("kernel") + "/" + run.getParams().getParam("layout");
        kernels.computeIfAbsent(name, k -> new TreeMap<>()).put(size, score);
      } else if (benchmark.startsWith(STEPS)) {
        steps.computeIfAbsent(benchmark.substring(STEPS.length()), k -> new TreeMap<>())
            .put(size, score);
      }
    }

    System.out.println();
    System.out.println("Bandwidth reference (a[i] += w * b[i], float[], one thread):");
    System.out.printf(Locale.ROOT, "%-10s %16s %14s %18s%n",
        "P", "ms/call", "GB/s moved", "GB/s update-equiv");
    for (Map.Entry<Integer, Result<?>> e : triad.entrySet()) {
      int size = e.getKey();
      double ms = e.getValue().getScore();
      System.out.printf(Locale.ROOT, "%-10d %16s %14.2f %18.2f%n",
          size, withError(e.getValue()), gbPerSecond(12L * size, ms), gbPerSecond(4L * size, ms));
      System.out.printf(Locale.ROOT, "TRIAD_BENCH P=%d ms=%.4f gb_s=%.3f update_gb_s=%.3f%n",
          size, ms, gbPerSecond(12L * size, ms), gbPerSecond(4L * size, ms));
    }

    System.out.println();
    System.out.println("Fold one update (sum.add(update, 3.0)):");
    System.out.printf(Locale.ROOT, "%-12s %-10s %16s %12s %16s %8s%n",
        "kernel/data", "P", "ms/update", "update GB/s", "ref update GB/s", "ratio");
    for (Map.Entry<String, Map<Integer, Result<?>>> k : kernels.entrySet()) {
      for (Map.Entry<Integer, Result<?>> e : k.getValue().entrySet()) {
        int size = e.getKey();
        double ms = e.getValue().getScore();
        double updateGbs = gbPerSecond(4L * size, ms);
        Result<?> reference = triad.get(size);
        double refMs = reference == null ? Double.NaN : reference.getScore();
        double refGbs = gbPerSecond(12L * size, refMs);
        double refUpdateGbs = gbPerSecond(4L * size, refMs);
        double ratio = updateGbs / refUpdateGbs;
        System.out.printf(Locale.ROOT, "%-12s %-10d %16s %12.2f %16.2f %8.2f%n",
            k.getKey(), size, withError(e.getValue()), updateGbs, refUpdateGbs, ratio);
        System.out.printf(Locale.ROOT,
            "KERNEL_BENCH kernel=%s P=%d ms_per_update=%.4f update_gb_s=%.3f triad_ms=%.4f"
                + " triad_gb_s=%.3f triad_update_gb_s=%.3f ratio=%.3f%n",
            k.getKey(), size, ms, updateGbs, refMs, refGbs, refUpdateGbs, ratio);
      }
    }

    if (!steps.isEmpty()) {
      System.out.println();
      System.out.println("ND4J kernel steps on a heap update, each as a share of that fold:");
      Map<Integer, Result<?>> nd4j = kernels.getOrDefault("nd4j/heap", Map.of());
      for (Map.Entry<String, Map<Integer, Result<?>>> s : steps.entrySet()) {
        for (Map.Entry<Integer, Result<?>> e : s.getValue().entrySet()) {
          int size = e.getKey();
          double ms = e.getValue().getScore();
          Result<?> fold = nd4j.get(size);
          double share = fold == null ? Double.NaN : ms / fold.getScore();
          System.out.printf(Locale.ROOT, "ND4J_STEP step=%s P=%d ms=%.4f update_gb_s=%.3f"
              + " share_of_fold=%.2f%n", s.getKey(), size, ms, gbPerSecond(4L * size, ms), share);
        }
      }
    }
  }

  private static double gbPerSecond(long bytes, double ms) {
    return bytes / (ms * 1e-3) / 1e9;
  }

  private static String withError(Result<?> result) {
    return String.format(Locale.ROOT, "%.3f ± %.3f", result.getScore(), result.getScoreError());
  }
}
