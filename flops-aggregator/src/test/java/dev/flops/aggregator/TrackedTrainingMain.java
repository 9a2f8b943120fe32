package dev.flops.aggregator;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An aggregator process that tracks a short training (one in-process learner over loopback, the
 * parameters of {@link Federations#randomParameters} with seed 31, each round adding 1) to the
 * tracking URI it is given, reading MLflow's credential variables from its environment as any
 * aggregator does. Prints {@code ROUND <n>} after each round, then {@code TRACKED <tracked>
 * <outbox or -> <unsent calls>}.
 *
 * <p>Options: {@code --tracking-uri URI --outbox DIR [--rounds N] [--flush-ms MS]
 * [--experiment NAME] [--round-pause-ms MS]} (a pause after each round, to be killed mid-way).
 */
public final class TrackedTrainingMain {
  private TrackedTrainingMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = FaultLearnerMain.options(args);
    Parameters initial = Federations.randomParameters(31, false);
    Tracking tracking = Tracking.uri(options.get("tracking-uri"))
        .experimentName(options.getOrDefault("experiment", "child process"))
        .flushTimeout(Duration.ofMillis(Long.parseLong(options.getOrDefault("flush-ms", "20000"))))
        .retryBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
        .outbox(Path.of(options.get("outbox")));
    TrainingResult result;
    TrainingPlan plan = TrainingPlan.builder()
        .rounds(Integer.parseInt(options.getOrDefault("rounds", "3"))).tracking(tracking)
        .observer(new dev.flops.api.FederationObserver() {
          @Override
          public void onRoundFinished(dev.flops.api.RoundSummary summary) {
            FaultLearnerMain.say("ROUND " + summary.round());
            try {
              Thread.sleep(Long.parseLong(options.getOrDefault("round-pause-ms", "0")));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        })
        .build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .averagingKernel(new JavaAveraging())
        .build()
        .start()) {
      CompletableFuture<Void> learner = Federations.startLearner("child", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 5));
      result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
    }
    TrackingInfo info = result.trackingInfo().orElseThrow();
    FaultLearnerMain.say("TRACKED " + info.tracked() + " " + info.pendingOutbox().orElse("-")
        + " " + info.unsent().size());
  }
}
