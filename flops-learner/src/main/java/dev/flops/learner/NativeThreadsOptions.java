package dev.flops.learner;

import dev.flops.dl4j.NativeThreads;
import dev.flops.dl4j.NativeThreadsArgument;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The {@code --native-threads} option of a learner process (a picocli mixin shared by
 * {@link LearnerMain} and the examples' learner): how many native threads ND4J computes with.
 *
 * <p>Why: ND4J sizes each process to all the machine's cores, so learner processes that share a
 * machine start a thread per core each and spin against each other (three learner JVMs on 2 cores
 * ran rounds several times slower than with one thread each). {@code auto}, the default, gives
 * each learner process of the same main class on this machine an equal share of the cores, at
 * least one. Without ND4J on the classpath (a learner whose model is not DL4J) {@code auto} does
 * nothing and a number is refused.
 */
public final class NativeThreadsOptions {
  private static final Logger log = LoggerFactory.getLogger(NativeThreadsOptions.class);

  @Option(names = "--native-threads", defaultValue = "auto", paramLabel = "N|auto",
      description = "Native (OpenMP, OpenBLAS) threads of this learner process; auto gives each "
          + "learner process on this machine an equal share of its cores, at least 1 "
          + "(default: ${DEFAULT-VALUE}).")
  String nativeThreads = "auto";

  /**
   * Sizes ND4J's native threads as the option says. Call it on the thread that will call
   * {@link Learner#run()} (OpenMP keeps the setting per thread), once the learner processes that
   * start together all exist, e.g. after loading the model or the data.
   *
   * @param mainClass the learner's main class, whose processes on this machine share the cores
   * @return the threads ND4J uses afterwards, or 0 if ND4J is not on the classpath
   * @throws IllegalArgumentException if the option is neither {@code auto} nor a count from 1 to
   *     {@link NativeThreads#MAX_THREADS}, or is a count without ND4J on the classpath
   */
  public int apply(String mainClass) {
    int requested = parse(nativeThreads);
    if (!nd4jPresent()) {
      if (requested > 0) {
        throw new IllegalArgumentException("--native-threads " + requested + " sizes ND4J's "
            + "threads, but ND4J is not on this learner's classpath; drop the option");
      }
      return 0;
    }
    int cores = Runtime.getRuntime().availableProcessors();
    long learners = processesOnThisHost(mainClass);
    int threads = requested > 0 ? requested : NativeThreads.perProcess(cores, learners);
    int applied = NativeThreads.limit(threads);
    log.info("native threads: {} ({}; {} cores, {} learner process(es) on this host)", applied,
        requested > 0 ? "--native-threads" : "auto", cores, learners);
    return applied;
  }

  /**
   * Parses the option.
   *
   * @return the threads asked for, or 0 for {@code auto}
   */
  static int parse(String value) {
    return NativeThreadsArgument.parse("--native-threads", value, "auto");
  }

  private static boolean nd4jPresent() {
    try {
      Class.forName("org.nd4j.linalg.factory.Nd4j", false, NativeThreadsOptions.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /** Counts the processes of this machine, this one included, that run {@code mainClass}. */
  static long processesOnThisHost(String mainClass) {
    long others = ProcessHandle.allProcesses()
        .filter(p -> p.pid() != ProcessHandle.current().pid())
        .filter(p -> runs(p, mainClass))
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
