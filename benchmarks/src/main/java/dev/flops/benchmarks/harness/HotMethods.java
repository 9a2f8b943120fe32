package dev.flops.benchmarks.harness;

import dev.flops.proto.codec.FlopsVersion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Summarises a JFR recording's method samples, as JDK 21's {@code jfr view hot-methods} does
 * (JDK 17's {@code jfr} tool has no {@code view}): the top frames of {@code jdk.ExecutionSample}
 * (threads running Java code) and {@code jdk.NativeMethodSample} (threads in native code: socket
 * reads, waits, BLAS), the flops methods found anywhere on the stacks of Java samples, samples per
 * thread, the JVM's and the machine's mean CPU load, and the GC pauses.
 *
 * <pre>
 * java -cp benchmarks/target/classes:$(cat benchmarks/target/classpath.txt) \
 *     dev.flops.benchmarks.harness.HotMethods aggregator.jfr --top 15
 * </pre>
 */
@Command(name = "hot-methods", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Prints the hottest methods of a JFR recording's method samples.")
public final class HotMethods implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "RECORDING", description = "The .jfr file.")
  Path recording;

  @Option(names = "--top", defaultValue = "15", description = "Rows per table (default: ${DEFAULT-VALUE}).")
  int top;

  /**
   * Runs the summary.
   *
   * @param args the recording and options; {@code --help} lists them
   */
  public static void main(String[] args) {
    System.exit(new CommandLine(new HotMethods()).execute(args));
  }

  @Override
  public Integer call() throws IOException {
    Map<String, Map<String, Integer>> self = new LinkedHashMap<>();
    Map<String, Integer> inclusive = new HashMap<>();
    Map<String, Integer> threads = new HashMap<>();
    Map<String, Integer> totals = new HashMap<>();
    double[] cpu = new double[3]; // jvm user + system, machine total, samples
    Duration gcPauses = Duration.ZERO;
    int collections = 0;
    for (RecordedEvent event : RecordingFile.readAllEvents(recording)) {
      String type = event.getEventType().getName();
      if (type.equals("jdk.CPULoad")) {
        cpu[0] += event.getFloat("jvmUser") + event.getFloat("jvmSystem");
        cpu[1] += event.getFloat("machineTotal");
        cpu[2]++;
        continue;
      }
      if (type.equals("jdk.GarbageCollection")) {
        gcPauses = gcPauses.plus(event.getDuration("sumOfPauses"));
        collections++;
        continue;
      }
      if (!type.equals("jdk.ExecutionSample") && !type.equals("jdk.NativeMethodSample")) {
        continue;
      }
      RecordedStackTrace stack = event.getStackTrace();
      if (stack == null || stack.getFrames().isEmpty()) {
        continue;
      }
      totals.merge(type, 1, Integer::sum);
      List<RecordedFrame> frames = stack.getFrames();
      self.computeIfAbsent(type, k -> new HashMap<>()).merge(name(frames.get(0)), 1, Integer::sum);
      if (type.equals("jdk.ExecutionSample")) {
        frames.stream().map(HotMethods::name).filter(m -> m.startsWith("dev.flops.")).distinct()
            .forEach(method -> inclusive.merge(method, 1, Integer::sum));
      }
      RecordedThread thread = event.getThread("sampledThread");
      String threadName = thread == null ? "?" : thread.getJavaName();
      threads.merge(type.substring(4) + " " + group(threadName), 1, Integer::sum);
    }
    System.out.println("recording: " + recording);
    if (cpu[2] > 0) {
      System.out.printf(Locale.ROOT, "CPU (jdk.CPULoad, %d samples): this JVM %.1f%%, machine %.1f%%"
          + " (of all cores)%n", (int) cpu[2], 100 * cpu[0] / cpu[2], 100 * cpu[1] / cpu[2]);
    }
    System.out.printf(Locale.ROOT, "GC: %d collections, %d ms of pauses%n", collections,
        gcPauses.toMillis());
    for (String type : List.of("jdk.ExecutionSample", "jdk.NativeMethodSample")) {
      int total = totals.getOrDefault(type, 0);
      System.out.printf(Locale.ROOT, "%n%s: %d samples, top frames%n", type, total);
      print(self.getOrDefault(type, Map.of()), total);
    }
    int java = totals.getOrDefault("jdk.ExecutionSample", 0);
    System.out.printf(Locale.ROOT,
        "%nflops methods anywhere on the stacks of jdk.ExecutionSample (%d samples)%n", java);
    print(inclusive, java);
    int all = totals.values().stream().mapToInt(Integer::intValue).sum();
    System.out.printf(Locale.ROOT, "%nsamples by thread (numbers in thread names dropped)%n");
    print(threads, all);
    return 0;
  }

  private void print(Map<String, Integer> counts, int total) {
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .limit(top)
        .forEach(e -> System.out.printf(Locale.ROOT, "  %6d %5.1f%%  %s%n", e.getValue(),
            100.0 * e.getValue() / Math.max(1, total), e.getKey()));
  }

  private static String name(RecordedFrame frame) {
    return frame.getMethod().getType().getName() + "." + frame.getMethod().getName();
  }

  private static String group(String threadName) {
    return threadName.replaceAll("\\d+", "N");
  }
}
