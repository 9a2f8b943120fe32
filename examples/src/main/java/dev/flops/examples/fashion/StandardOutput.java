package dev.flops.examples.fashion;

import dev.flops.learner.LearnerMain;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.function.Function;
import picocli.CommandLine;

/**
 * Keeps standard output for results. Libraries print to {@code System.out} on their own (ND4J and
 * OpenBLAS print start-up notices there, and a logging backend configured for the console may
 * write every log line there), which would mix with the result lines a script reads. After
 * {@link #reserveForResults()} anything printed to {@code System.out} goes to standard error, and
 * only the stream it returns reaches standard output.
 */
final class StandardOutput {
  private StandardOutput() {}

  /**
   * Redirects {@code System.out} to standard error; call it first thing in {@code main}, before
   * any library loads.
   *
   * @return the real standard output, for results only
   */
  static PrintStream reserveForResults() {
    PrintStream results = System.out;
    System.setOut(System.err);
    return results;
  }

  /**
   * Runs a command with standard output reserved for its results (and picocli's help).
   *
   * @param command makes the command, given the stream for its results
   * @return the command's exit code
   */
  static int execute(Function<PrintStream, Object> command, String[] args) {
    PrintStream results = reserveForResults();
    CommandLine commandLine = LearnerMain.commandLine(command.apply(results));
    commandLine.setOut(new PrintWriter(results, true));
    return commandLine.execute(args);
  }
}
