package dev.flops.aggregator;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;

/**
 * An aggregator and one learner in a JVM that may lack ND4J, as an application that excluded
 * nd4j-native runs them. {@code java} sets the plain-Java kernel as the README says; {@code default}
 * leaves the kernel to the aggregator. Prints one result line to standard output.
 */
public final class WithoutNd4jMain {
  private WithoutNd4jMain() {}

  public static void main(String[] args) throws Exception {
    Parameters initial = Federations.randomParameters(31, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).tracking(Tracking.off()).build();
    FedAvg strategy = FedAvg.builder().build();
    Aggregator.Builder builder = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial));
    if (args[0].equals("java")) {
      builder.averagingKernel(new JavaAveraging());
    }
    try (Aggregator aggregator = builder.build().start()) {
      Federations.startLearner("one", aggregator.port(), FakeTrainer.adding(initial, 1f, 5));
      TrainingResult result = aggregator.train(plan, strategy);
      System.out.println("trained: round 1 fit " + result.finalRound().fitSucceeded() + " ok");
    }
    System.exit(0);
  }
}
