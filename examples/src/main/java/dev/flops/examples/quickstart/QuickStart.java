package dev.flops.examples.quickstart;

import dev.flops.aggregator.Aggregator;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.Config;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.dl4j.Dl4jModel;
import dev.flops.dl4j.Dl4jTrainer;
import dev.flops.learner.Learner;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The code of the README's "Embedding flops" section, compiled so that it stays true: one method
 * for the aggregator's process, one for each learner's. {@code QuickStartTest} runs both.
 */
public final class QuickStart {

  private QuickStart() {}

  /**
   * The aggregator side: serves learners on {@code port} and trains 3 rounds of FedAvg.
   *
   * @param host the address to listen on: {@code 0.0.0.0} for every interface
   * @param port the port to listen on (0 picks one; {@code onListening} hears which)
   * @param net an initialised network: the aggregator's own copy, never trained here
   * @param learners how many learners must be connected before a round starts
   * @param onListening receives the bound port once the aggregator listens
   * @return the rounds, the best round and the final parameters; {@code net} holds them too
   * @throws Exception if the port cannot be bound or training fails
   */
  public static TrainingResult runAggregator(String host, int port, MultiLayerNetwork net,
      int learners, IntConsumer onListening) throws Exception {
    try (Aggregator aggregator = Aggregator.builder()
        .host(host)
        .port(port)
        .model(Dl4jModel.of(net))                      // or Dl4jModel.of(computationGraph)
        .build()                                       // nothing happens until start()
        .start()) {
      onListening.accept(aggregator.port());
      TrainingPlan plan = TrainingPlan.builder()       // the loop: rounds, minimums, timeouts
          .rounds(3)
          .minAvailableLearners(learners)
          .observer(new FederationObserver() {
            @Override
            public void onRoundFinished(RoundSummary round) {
              System.out.printf("round %d accuracy %.3f%n", round.round(), round.accuracy());
            }
          })
          .build();
      FedAvg fedAvg = FedAvg.builder()                 // the decisions: whom to ask, with what
          .fitConfig(round -> Config.of("local_epochs", 1, "batch_size", 64))
          .build();
      return aggregator.train(plan, fedAvg);           // blocks; may be called again
    }                                                  // close(): the learners shut down
  }

  /**
   * The learner side: loads its data, connects (waiting for the aggregator if needed), trains
   * when asked, and returns when the aggregator says the federation is over.
   *
   * @param aggregator the aggregator's {@code host:port}
   * @param name the learner's name in logs
   * @param net an initialised network of the same architecture as the aggregator's
   * @param trainData loads the local training examples (called once, before connecting)
   * @param testData loads the local held-out examples
   * @throws Exception if the data cannot be loaded or the aggregator stays unreachable
   */
  public static void runLearner(String aggregator, String name, MultiLayerNetwork net,
      Callable<DataSet> trainData, Callable<DataSet> testData) throws Exception {
    Dl4jTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(net))
        .trainData(trainData)
        .testData(testData)
        .build();
    Learner.builder()
        .aggregator(aggregator)                        // e.g. "aggregator.example.org:50051"
        .name(name)
        .trainer(trainer)
        .build()
        .run();
  }
}
