package dev.flops.aggregator;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Config;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * An aggregator process for fault tests: FedAvg over the parameters of
 * {@link Federations#randomParameters}, a checkpoint directory, the plain-Java kernel (no native
 * libraries to load). It prints {@code LISTENING <port>}, then {@code ROUND <n> <fit ok> <fit
 * failed> <evaluate ok> <evaluate failed>} after each round, then {@code TRAINED}; it exits with 0
 * when training succeeded, else 1.
 *
 * <p>Options: {@code --host H --port P --rounds N --min-fit N --min-available N
 * --round-timeout-ms MS --checkpoint-dir DIR [--resume true] [--big true] [--keepalive-ms MS
 * --keepalive-timeout-ms MS] [--learner-wait-s S]}.
 */
public final class FaultAggregatorMain {
  private FaultAggregatorMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = FaultLearnerMain.options(args);
    int minFit = Integer.parseInt(options.getOrDefault("min-fit", "1"));
    FedAvg strategy = FedAvg.builder()
        .minFitLearners(minFit)
        .minEvaluateLearners(minFit)
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .samplingSeed(1)
        .build();
    TrainingPlan plan = TrainingPlan.builder()
        .rounds(Integer.parseInt(options.get("rounds")))
        .minFitResults(minFit)
        .minEvaluateResults(minFit)
        .minAvailableLearners(Integer.parseInt(options.getOrDefault("min-available", "1")))
        .roundTimeout(Duration.ofMillis(Long.parseLong(options.getOrDefault("round-timeout-ms",
            "60000"))))
        .checkpointDirectory(Path.of(options.get("checkpoint-dir")))
        .resume(Boolean.parseBoolean(options.getOrDefault("resume", "false")))
        .learnerWait(Duration.ofSeconds(
            Long.parseLong(options.getOrDefault("learner-wait-s", "120"))))
        .observer(new FederationObserver() {
          @Override
          public void onRoundFinished(RoundSummary s) {
            FaultLearnerMain.say(String.format("ROUND %d %d %d %d %d", s.round(), s.fitSucceeded(),
                s.fitFailed(), s.evaluateSucceeded(), s.evaluateFailed()));
          }
        })
        .build();
    Aggregator.Builder builder = Aggregator.builder()
        .host(options.getOrDefault("host", "127.0.0.1"))
        .port(Integer.parseInt(options.getOrDefault("port", "0")))
        .model(new ArrayModel(Federations.randomParameters(0,
            Boolean.parseBoolean(options.getOrDefault("big", "false")))))
        .averagingKernel(new JavaAveraging());
    if (options.containsKey("keepalive-ms")) {
      builder.keepAlive(Duration.ofMillis(Long.parseLong(options.get("keepalive-ms"))),
          Duration.ofMillis(Long.parseLong(options.get("keepalive-timeout-ms"))));
    }
    try (Aggregator aggregator = builder.build().start()) {
      FaultLearnerMain.say("LISTENING " + aggregator.port());
      TrainingResult result = aggregator.train(plan, strategy);
      FaultLearnerMain.say("TRAINED " + result.rounds().size());
    } catch (Exception e) {
      FaultLearnerMain.say("FAILED " + e);
      System.exit(1);
    }
    System.exit(0);
  }
}
