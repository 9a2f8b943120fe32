package dev.flops.aggregator;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Java main of the test classpath run as a separate process (optionally behind a command prefix
 * such as {@code ip netns exec NS}), with its output (stdout and stderr) kept for assertions and
 * copied to a log file. Closing it kills the process if it still runs.
 */
public final class ChildJvm implements AutoCloseable {
  private final String label;
  private final Process process;
  private final List<String> lines = new ArrayList<>();
  private final Thread reader;

  private ChildJvm(String label, Process process, Path log) throws IOException {
    this.label = label;
    this.process = process;
    PrintWriter file = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true);
    this.reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          file.println(line);
          synchronized (lines) {
            lines.add(line);
            lines.notifyAll();
          }
        }
      } catch (IOException e) {
        // The process was killed; what it printed so far is kept.
      } finally {
        file.close();
        synchronized (lines) {
          lines.notifyAll();
        }
      }
    }, "output-of-" + label);
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code mainClass} with the test JVM's java and classpath.
   *
   * @param prefix a command the java command runs under (e.g. {@code ip netns exec ns}), or empty
   * @param log where the process's output is copied
   */
  public static ChildJvm start(String label, List<String> prefix, Class<?> mainClass, Path log,
      String... args) throws IOException {
    return start(label, prefix, java.util.Map.of(), List.of(), mainClass, log, args);
  }

  /** Starts {@code mainClass} as above, with extra environment variables. */
  public static ChildJvm start(String label, List<String> prefix,
      java.util.Map<String, String> environment, Class<?> mainClass, Path log, String... args)
      throws IOException {
    return start(label, prefix, environment, List.of(), mainClass, log, args);
  }

  /**
   * As above, with JVM options after the defaults ({@code -Xmx256m}, C1 only), so that an option
   * given again here wins.
   */
  public static ChildJvm start(String label, List<String> prefix, List<String> jvmOptions,
      Class<?> mainClass, Path log, String... args) throws IOException {
    return start(label, prefix, java.util.Map.of(), jvmOptions, mainClass, log, args);
  }

  /** Starts {@code mainClass} with extra environment variables and JVM options. */
  public static ChildJvm start(String label, List<String> prefix,
      java.util.Map<String, String> environment, List<String> jvmOptions, Class<?> mainClass,
      Path log, String... args) throws IOException {
    List<String> command = new ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m");
    command.add("-XX:TieredStopAtLevel=1");
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(environment);
    Process process = builder.start();
    return new ChildJvm(label, process, log);
  }

  public Process process() {
    return process;
  }

  /** Waits for an output line that matches, and returns it. */
  public String awaitLine(Predicate<String> matches, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int seen = 0;
    synchronized (lines) {
      while (true) {
        for (; seen < lines.size(); seen++) {
          if (matches.test(lines.get(seen))) {
            return lines.get(seen);
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError(label + " printed no matching line within " + timeout
              + "; its output:\n" + output());
        }
        if (!reader.isAlive() && seen == lines.size()) {
          throw new AssertionError(label + " ended (exit " + exitCodeOrNone()
              + ") without a matching line; its output:\n" + output());
        }
        lines.wait(Math.max(1, Math.min(left / 1_000_000, 200)));
      }
    }
  }

  /** Waits for the process to end and returns its exit code. */
  public int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(label + " still runs after " + timeout + "; its output:\n"
          + output());
    }
    reader.join(5000);
    return process.exitValue();
  }

  /** Kills the process at once (SIGKILL), as a crash would, and waits until it is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
    reader.join(5000);
  }

  public String output() {
    synchronized (lines) {
      return String.join("\n", lines);
    }
  }

  private String exitCodeOrNone() {
    return process.isAlive() ? "none yet" : String.valueOf(process.exitValue());
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      try {
        kill();
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
