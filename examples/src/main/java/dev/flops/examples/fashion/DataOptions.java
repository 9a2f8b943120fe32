package dev.flops.examples.fashion;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the Fashion-MNIST mains read the data set and how much of it (a picocli mixin). */
public final class DataOptions {

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Directory with the four Fashion-MNIST IDX .gz files. Default: "
          + "/usr/share/datasets/fashion-mnist if installed, else the embedded subset.")
  Path dataDir;

  @Option(names = "--train-limit", description = "Use only the first N training examples.")
  Integer trainLimit;

  @Option(names = "--test-limit", description = "Use only the first N test examples.")
  Integer testLimit;

  /**
   * Loads the data set as the options say.
   *
   * @throws IllegalArgumentException if {@code --data-dir} does not exist or lacks some files
   * @throws IOException if a file cannot be read or is malformed
   */
  FashionMnist load() throws IOException {
    FashionMnist.Loader loader = FashionMnist.loader().dataDir(dataDir);
    if (trainLimit != null) {
      loader.limitTrain(trainLimit);
    }
    if (testLimit != null) {
      loader.limitTest(testLimit);
    }
    try {
      return loader.load();
    } catch (FileNotFoundException e) {
      // Only a --data-dir that lacks the files: a bad option value (exit 2), with the loader's
      // advice; the default locations fall back to the embedded subset instead.
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }
}
