package dev.flops.examples.fashion;

import dev.flops.dl4j.Dl4jModel;
import dev.flops.dl4j.Dl4jTrainer;
import java.io.IOException;
import java.util.function.LongFunction;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The data and training options the Fashion-MNIST mains share (a picocli mixin), and how they
 * turn into each learner's local work.
 */
public final class FashionOptions {

  @Mixin
  DataOptions data = new DataOptions();

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

  /** Loads the data set as the options say. */
  FashionMnist load() throws IOException {
    return data.load();
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
    return trainer(data, index, SiteShare.ALL);
  }

  /**
   * The local work of learner {@code index} of a site: its own shard of the site's training and
   * test examples (split the same way), an MLP, and the options' epochs and batch size.
   */
  Dl4jTrainer trainer(FashionMnist data, int index, SiteShare site) {
    if (index < 0 || index >= learners) {
      throw new IllegalArgumentException(String.format(
          "learner index %d is outside [0, %d): there are --learners %d", index, learners, learners));
    }
    int[] train = shard(data.train().labels(), index, site);
    int[] test = shard(data.test().labels(), index, site);
    return Dl4jTrainer.builder(newModel())
        .trainData(() -> data.train().toDataSet(train))
        .testData(() -> data.test().toDataSet(test))
        .localEpochs(localEpochs)
        .batchSize(batchSize)
        .shuffleSeed(seed + index)
        .build();
  }

  /** Learner {@code index}'s examples among the site's, as indices into {@code labels}. */
  private int[] shard(int[] labels, int index, SiteShare site) {
    int[] siteExamples = site.examples(labels);
    int[] siteLabels = new int[siteExamples.length];
    for (int i = 0; i < siteExamples.length; i++) {
      siteLabels[i] = labels[siteExamples[i]];
    }
    int[] local = Partitioning.parse(partition)
        .split(siteLabels, FashionMnist.NUM_CLASSES, learners, seed)[index];
    int[] shard = new int[local.length];
    for (int i = 0; i < local.length; i++) {
      shard[i] = siteExamples[local[i]];
    }
    return shard;
  }
}
