package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import io.grpc.ClientInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A transfer broken by the network (a TCP reset in the middle of an upload, through a relay) is
 * logged by the learner as one line with the status and its cause, and reported to the
 * aggregator the same way: never the 20-line Netty stack trace that {@code Status.toString()}
 * carries.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BrokenTransferLogTest {

  /** Resets every connection through {@code proxy} once the upload's header and a chunk went out. */
  private static ClientInterceptor cutDuringUpload(CuttableProxy proxy) {
    AtomicBoolean cut = new AtomicBoolean();
    return UploadFaults.afterMessages(2, call -> {
      if (cut.compareAndSet(false, true)) {
        proxy.cut();
      }
    });
  }

  @Test
  void uploadResetByTheNetwork_learnerLogsOneLine_noStackTrace() throws Exception {
    Parameters initial = Federations.randomParameters(81, true); // 2 chunks
    TrainingPlan plan = TrainingPlan.builder().rounds(1).roundTimeout(Duration.ofSeconds(30))
        .build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start();
        CuttableProxy proxy = new CuttableProxy(aggregator.port())) {
      Learner.builder().aggregator("127.0.0.1", proxy.port()).name("cut")
          .trainer(new DeterministicTrainer("cut", initial))
          .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .interceptor(cutDuringUpload(proxy))
          .build().runAsync();

      // attempt 2 runs after the reconnection
      TrainingResult result = aggregator.train(plan, strategy);

      assertEquals(1, result.finalRound().fitSucceeded(), result.finalRound().toString());
      String text = log.text();
      List<String> lines = text.lines().toList();
      int broken = -1;
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).contains("WARN ControlSession")
            && lines.get(i).contains("the transfer broke off: ")) {
          broken = i;
          break;
        }
      }
      assertTrue(broken >= 0, "the learner logs the broken transfer:\n" + text);
      String line = lines.get(broken);
      assertTrue(line.matches(".*the transfer broke off: (UNAVAILABLE|CANCELLED|INTERNAL|UNKNOWN)"
          + ".*"), line);
      assertFalse(line.contains("Status{"), line);
      for (String other : lines) {
        assertFalse(other.startsWith("\tat ") || other.startsWith("Caused by: "),
            "no stack trace anywhere in the log, found: " + other + "\nlog:\n" + text);
      }
      // What the learner reported, or the aggregator saw, is one line too.
      result.finalRound().failures().forEach(f ->
          assertFalse(f.reason().contains("\n"), "one line: " + f.reason()));
    }
  }
}
