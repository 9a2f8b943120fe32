package dev.flops.examples.fashion;

import picocli.CommandLine.Option;

/** How a cluster of a hierarchical federation trains in each root round (a picocli mixin). */
public final class CycleOptions {

  @Option(names = "--cycles", defaultValue = "2",
      description = "Training cycles (rounds of a cluster) per root round "
          + "(default: ${DEFAULT-VALUE}).")
  int cycles = 2;

  @Option(names = "--local-epochs", defaultValue = "1",
      description = "Local epochs per cycle (default: ${DEFAULT-VALUE}).")
  int localEpochs = 1;

  @Option(names = "--batch-size", defaultValue = "64",
      description = "Minibatch size (default: ${DEFAULT-VALUE}).")
  int batchSize = 64;

  /** Checks the values picocli cannot check by type. */
  void validate() {
    if (cycles < 1) {
      throw new IllegalArgumentException("--cycles must be at least 1 but was " + cycles);
    }
    if (localEpochs < 1) {
      throw new IllegalArgumentException("--local-epochs must be at least 1 but was " + localEpochs);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size must be at least 1 but was " + batchSize);
    }
  }
}
