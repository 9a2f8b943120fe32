package dev.flops.benchmarks.harness;

/** What the harness's child processes share: they end when the harness that started them ends. */
final class ChildProcesses {
  private ChildProcesses() {}

  /**
   * Halts this JVM when its parent process exits, so that a harness killed with SIGKILL leaves no
   * aggregator or learner behind.
   */
  static void exitWithParent() {
    ProcessHandle.current().parent().ifPresent(parent -> parent.onExit().thenRun(() -> {
      System.err.println("the round harness (pid " + parent.pid() + ") is gone; exiting");
      Runtime.getRuntime().halt(3);
    }));
  }

  static String mb(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f", bytes / 1048576.0);
  }
}
