package dev.flops.examples.fashion;

import dev.flops.api.Config;
import dev.flops.api.strategy.FedAvg;
import dev.flops.dl4j.Dl4jTrainer;

/** The Fashion example's FedAvg, as every one of its mains and its app configures it. */
final class FashionStrategy {
  private FashionStrategy() {}

  /**
   * Returns a FedAvg builder whose fit tasks carry the local epochs and batch size, and which
   * evaluates centrally on {@code central} when it is given.
   *
   * @param localEpochs epochs of local training per round, at least 1
   * @param batchSize the learners' minibatch size, at least 1
   * @param central the aggregator's test set, or null for no central evaluation
   * @return the builder, for a caller that adds more (e.g. an evaluate config)
   */
  static FedAvg.Builder fedAvg(int localEpochs, int batchSize, CentralTestSet central) {
    FedAvg.Builder fedAvg = FedAvg.builder().fitConfig(round -> Config.of(
        Dl4jTrainer.LOCAL_EPOCHS, localEpochs, Dl4jTrainer.BATCH_SIZE, batchSize));
    if (central != null) {
      fedAvg.centralEvaluation(central);
    }
    return fedAvg;
  }
}
