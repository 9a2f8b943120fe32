package dev.flops.examples.fashion;

import dev.flops.dl4j.NativeThreads;
import dev.flops.learner.Learner;
import dev.flops.learner.LearnerMain;
import dev.flops.learner.LearnerSecurityOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * One Fashion-MNIST learner as its own process: loads partition {@code --index} of
 * {@code --learners} and connects to the aggregator, waiting for it if it is not up yet.
 */
@Command(name = "fashion-learner", mixinStandardHelpOptions = true,
    description = "Runs one Fashion-MNIST learner against an aggregator.")
public final class FashionLearnerMain implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(FashionLearnerMain.class);

  @Mixin
  FashionOptions options = new FashionOptions();

  @Option(names = "--aggregator", defaultValue = "127.0.0.1:50051", paramLabel = "HOST:PORT",
      description = "The aggregator's address (default: ${DEFAULT-VALUE}).")
  String aggregator;

  @Option(names = "--index", required = true,
      description = "Which partition this learner holds, from 0 to learners-1.")
  int index;

  @Option(names = "--native-threads", defaultValue = "auto", paramLabel = "N|auto",
      description = "Native (OpenMP, OpenBLAS) threads of this learner process; auto gives each "
          + "learner process on this machine an equal share of its cores, at least 1 "
          + "(default: ${DEFAULT-VALUE}).")
  String nativeThreads;

  @Mixin
  LearnerSecurityOptions security = new LearnerSecurityOptions();

  /**
   * Runs the learner.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    // A learner prints no results: its standard output carries only --help.
    System.exit(StandardOutput.execute(results -> new FashionLearnerMain(), args));
  }

  @Override
  public Integer call() throws Exception {
    options.validate();
    if (index < 0 || index >= options.learners) {
      throw new IllegalArgumentException(String.format(
          "--index %d is outside [0, %d): there are --learners %d",
          index, options.learners, options.learners));
    }
    String threadsOption = nativeThreads;
    int requested = parseNativeThreads(threadsOption);
    FashionMnist data = options.load();
    // Counted once the data is loaded: learners started together all exist by then.
    int cores = Runtime.getRuntime().availableProcessors();
    long learners = learnerProcessesOnThisHost();
    int threads = requested > 0 ? requested : NativeThreads.perProcess(cores, learners);
    log.info("native threads: {} ({}; {} cores, {} learner process(es) on this host)",
        NativeThreads.limit(threads), requested > 0 ? "--native-threads" : "auto", cores, learners);
    security.applyTo(Learner.builder()
            .aggregator(aggregator)
            .name("fashion-" + index)
            .trainer(options.trainer(data, index)))
        .build()
        .run();
    return 0;
  }

  /**
   * Parses {@code --native-threads}.
   *
   * @return the threads asked for, or 0 for {@code auto}
   */
  static int parseNativeThreads(String value) {
    if (value.equals("auto")) {
      return 0;
    }
    try {
      int threads = Integer.parseInt(value);
      if (threads >= 1 && threads <= NativeThreads.MAX_THREADS) {
        return threads;
      }
    } catch (NumberFormatException notANumber) {
      // Falls through to the message below.
    }
    throw new IllegalArgumentException(String.format("--native-threads must be auto or a whole "
        + "number from 1 to %d but was '%s'", NativeThreads.MAX_THREADS, value));
  }

  /** Counts the Fashion learner JVMs of this machine that this user can see, this one included. */
  static long learnerProcessesOnThisHost() {
    String main = FashionLearnerMain.class.getName();
    long others = ProcessHandle.allProcesses()
        .filter(p -> p.pid() != ProcessHandle.current().pid())
        .filter(p -> runs(p, main))
        .count();
    return others + 1;
  }

  /**
   * Tells whether a process's command line names {@code main}. Linux's /proc is read directly:
   * the JDK's {@code ProcessHandle.Info} gives no command line for one as long as a Maven-built
   * classpath makes it.
   */
  private static boolean runs(ProcessHandle process, String main) {
    try {
      byte[] line = Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline"));
      return new String(line, StandardCharsets.ISO_8859_1).contains(main);
    } catch (IOException | SecurityException e) {
      return process.info().commandLine().map(line -> line.contains(main)).orElse(false);
    }
  }
}
