package dev.flops.aggregator.internal;

import java.nio.file.Path;

/**
 * Writes the checkpoint of round 1 into the directory given as argument, then starts the one of
 * round 2 and stops between the forced temporary file and the rename, printing
 * {@code RENAME_PENDING}, so that a test kills the process exactly there.
 */
public final class CheckpointCrashMain {
  private CheckpointCrashMain() {}

  public static void main(String[] args) throws Exception {
    Path directory = Path.of(args[0]);
    try (CheckpointStore store = CheckpointStore.open(directory)) {
      store.write(CheckpointStoreTest.checkpoint(1, 7));
    }
    try (CheckpointStore store = CheckpointStore.open(directory, () -> {
      System.out.println("RENAME_PENDING");
      System.out.flush();
      try {
        Thread.sleep(Long.MAX_VALUE);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    })) {
      store.write(CheckpointStoreTest.checkpoint(2, 8));
    }
  }
}
