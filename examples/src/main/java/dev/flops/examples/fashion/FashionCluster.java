package dev.flops.examples.fashion;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.ClusterTrainer;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.Config;
import dev.flops.api.strategy.FedAvg;
import dev.flops.dl4j.Dl4jTrainer;
import java.nio.file.Path;

/**
 * The Fashion-MNIST cluster of a hierarchical federation, as {@link FashionClusterMain} and
 * {@link HierarchicalFederation} both run it: a cluster aggregator whose fit runs training cycles
 * of FedAvg over its own learners.
 */
final class FashionCluster {
  private FashionCluster() {}

  /**
   * The local work of a cluster aggregator at the root.
   *
   * @param cluster the cluster's started aggregator
   * @param cycles the cluster's plan: its rounds are the training cycles per root round
   * @param options what the cluster's learners train with
   * @param checkpoints the cluster's checkpoint directory, or null for none
   */
  static ClusterTrainer trainer(Aggregator cluster, TrainingPlan cycles, CycleOptions options,
      Path checkpoints) {
    FedAvg strategy = FashionStrategy.fedAvg(options.localEpochs, options.batchSize, null)
        .evaluateConfig(round -> Config.of(Dl4jTrainer.BATCH_SIZE, 1000))
        .build();
    ClusterTrainer.Builder trainer = ClusterTrainer.builder()
        .aggregator(cluster)
        .cycles(cycles)
        .strategy(strategy);
    if (checkpoints != null) {
      trainer.checkpointDirectory(checkpoints);
    }
    return trainer.build();
  }
}
