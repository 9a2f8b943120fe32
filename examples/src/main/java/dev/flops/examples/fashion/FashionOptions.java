package dev.flops.examples.fashion;

import dev.flops.dl4j.Dl4jModel;
import dev.flops.dl4j.Dl4jTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.LongFunction;
import picocli.CommandLine.Option;

/**
 * The data and training options the Fashion-MNIST mains share (a picocli mixin), and how they
 * turn into each learner's local work.
 */
public final class FashionOptions {

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Directory with the four Fashion-MNIST IDX .gz files. Default: "
          + "/usr/share/datasets/fashion-mnist if installed, else the embedded subset.")
  Path dataDir;

  @Option(names = "--learners", defaultValue = "3",
      description = "Number of learners the data is partitioned over (default: ${DEFAULT-VALUE}).")
  int learners = 3;

  @Option(names = "--partition", defaultValue = "iid",
      description = "How data is split: " + Partitioning.ACCEPTED_FORMS
          + " (default: ${DEFAULT-VALUE}).")
  String partition = "iid";

  @Option(names = "--local-epochs", defaultValue = "1",
      description = "Local epochs per round (default: ${DEFAULT-VALUE}).")
  int localEpochs = 1;

  @Option(names = "--batch-size", defaultValue = "64",
      description = "Minibatch size (default: ${DEFAULT-VALUE}).")
  int batchSize = 64;

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the model, the partitioning and the shuffling (default: ${DEFAULT-VALUE}).")
  long seed = 42;

  @Option(names = "--model", defaultValue = "mlp",
      description = "mlp (a MultiLayerNetwork) or mlp-graph (the same layers as a "
          + "ComputationGraph) (default: ${DEFAULT-VALUE}).")
  String model = "mlp";

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

  /** Checks the values picocli cannot check by type. */
  void validate() {
    if (learners < 1) {
      throw new IllegalArgumentException("--learners must be at least 1 but was " + learners);
    }
    if (localEpochs < 1) {
      throw new IllegalArgumentException("--local-epochs must be at least 1 but was " + localEpochs);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size must be at least 1 but was " + batchSize);
    }
    Partitioning.parse(partition);
    modelFactory(model);
  }

  /** A fresh, initialised model of the kind {@code --model} names, seeded with {@code --seed}. */
  Dl4jModel newModel() {
    return modelFactory(model).apply(seed);
  }

  /** Maps a {@code --model} value to the factory of that model. */
  static LongFunction<Dl4jModel> modelFactory(String name) {
    return switch (name) {
      case "mlp" -> seed -> Dl4jModel.of(Mlp.create(seed));
      case "mlp-graph" -> seed -> Dl4jModel.of(Mlp.createGraph(seed));
      default -> throw new IllegalArgumentException(
          "--model must be mlp or mlp-graph but was '" + name + "'");
    };
  }

  /**
   * The local work of learner {@code index}: its own shard of the training set and of the test
   * set (split the same way), an MLP, and the options' epochs and batch size.
   */
  Dl4jTrainer trainer(FashionMnist data, int index) {
    if (index < 0 || index >= learners) {
      throw new IllegalArgumentException(String.format(
          "learner index %d is outside [0, %d): there are --learners %d", index, learners, learners));
    }
    Partitioning partitioning = Partitioning.parse(partition);
    int[] train = partitioning.split(
        data.train().labels(), FashionMnist.NUM_CLASSES, learners, seed)[index];
    int[] test = partitioning.split(
        data.test().labels(), FashionMnist.NUM_CLASSES, learners, seed)[index];
    return Dl4jTrainer.builder(newModel())
        .trainData(() -> data.train().toDataSet(train))
        .testData(() -> data.test().toDataSet(test))
        .localEpochs(localEpochs)
        .batchSize(batchSize)
        .shuffleSeed(seed + index)
        .build();
  }
}
