package dev.flops.examples.fashion;

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

  /** Loads the data set as the options say. */
  FashionMnist load() throws IOException {
    FashionMnist.Loader loader = FashionMnist.loader().dataDir(dataDir);
    if (trainLimit != null) {
      loader.limitTrain(trainLimit);
    }
    if (testLimit != null) {
      loader.limitTest(testLimit);
    }
    return loader.load();
  }
}
