package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.strategy.FedAvg;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shutdown hook's work ({@link SignalStop#stop}) in-process: it races the normal end without
 * harm and never holds the JVM longer than its bound. {@link SignalStopProcessTest} sends the real
 * signal.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SignalStopTest {

  @Test
  void hookAfterTheNormalEnd_closingTwiceIsHarmless_learnerKeepsSucceeded() throws Exception {
    Parameters initial = Federations.randomParameters(7, false);
    SignalStop signals = new SignalStop();
    TrainingPlan plan = signals.observe(TrainingPlan.builder().rounds(1)).build();
    FedAvg strategy = FedAvg.builder().build();
    Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build().start();
    try (SignalStop armed = signals.arm(aggregator)) {
      CompletableFuture<Void> learner = Federations.startLearner("site-a", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10));
      aggregator.train(plan, strategy);
      aggregator.close();
      signals.stop(aggregator); // the hook, after the main's own close
      aggregator.close();
      learner.get(10, TimeUnit.SECONDS); // told SUCCEEDED first: no exception
    }
  }

  @Test
  void closeHeldUpElsewhere_hookReturnsWithinItsBound() throws Exception {
    Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(8, false)))
        .build().start();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // Holds the aggregator's monitor, as a main thread stuck in its own close would.
    Thread holder = new Thread(() -> {
      synchronized (aggregator) {
        held.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    holder.start();
    held.await();
    try {
      long start = System.nanoTime();
      new SignalStop(Duration.ofMillis(300)).stop(aggregator);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertTrue(took.toMillis() < 3000, "the hook returned after " + took);
    } finally {
      release.countDown();
      holder.join();
      aggregator.close();
    }
  }

  @Test
  void armTwice_refused_badWait_refused() throws Exception {
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(Federations.randomParameters(9, false))).build().start();
        SignalStop signals = new SignalStop().arm(aggregator)) {
      IllegalStateException twice =
          assertThrows(IllegalStateException.class, () -> signals.arm(aggregator));
      assertEquals("this SignalStop is already armed; create one per aggregator",
          twice.getMessage());
    }
    IllegalArgumentException zero =
        assertThrows(IllegalArgumentException.class, () -> new SignalStop(Duration.ZERO));
    assertEquals("closeWait must be positive but was PT0S", zero.getMessage());
  }
}
