package dev.flops.aggregator;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Short tracked trainings for the tracking tests: one learner over loopback adding 1 a round. */
final class TrackedTrainings {
  private TrackedTrainings() {}

  static TrainingResult train(Tracking tracking, int rounds, long seed,
      FederationObserver observer) throws Exception {
    Parameters initial = Federations.randomParameters(seed, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(rounds).tracking(tracking).observer(observer)
        .build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      CompletableFuture<Void> learner = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 5));
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
      return result;
    }
  }

  /** Waits (at most 10 s) until the server holds this many runs. */
  static void awaitRuns(FakeMlflowServer server, int runs) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (server.runs.size() < runs && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
