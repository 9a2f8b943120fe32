package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.FederationFailedException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An aggregator that stops while a learner is inside its local fit: the learner says so at once,
 * and when the fit returns it neither uploads nor retries refused uploads of an aggregator that
 * is gone; it ends with the STOPPED outcome.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StoppedMidFitTest {

  /** A fit that takes a while (as real ones do) and says when it has begun. */
  private static final class SlowFit implements LocalTrainer {
    private final FakeTrainer inner;
    private final CountDownLatch fitting = new CountDownLatch(1);

    SlowFit(Parameters initial) {
      inner = FakeTrainer.adding(initial, 1f, 7);
    }

    @Override
    public dev.flops.api.FederatedModel model() {
      return inner.model();
    }

    @Override
    public FitResult fit(Config config) throws Exception {
      fitting.countDown();
      Thread.sleep(1500);
      return inner.fit(config);
    }

    @Override
    public EvaluateResult evaluate(Config config) throws Exception {
      return inner.evaluate(config);
    }
  }

  @Test
  void aggregatorClosedDuringAFit_learnerStopsWithoutUploading() throws Exception {
    Parameters initial = Federations.randomParameters(71, false);
    SlowFit trainer = new SlowFit(initial);
    TrainingPlan plan = TrainingPlan.builder().rounds(3)
        .tracking(dev.flops.aggregator.tracking.Tracking.off()).build();
    FedAvg strategy = FedAvg.builder().build();
    try (LogCapture log = new LogCapture()) {
      CompletableFuture<Void> learner;
      try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
          .model(new ArrayModel(initial))
          .build().start()) {
        learner = Federations.startLearner("site-a", aggregator.port(), trainer);
        CompletableFuture<?> training = CompletableFuture.runAsync(() -> {
          try {
            aggregator.train(plan, strategy);
          } catch (Exception expected) {
            // Closed under it.
          }
        });
        assertTrue(trainer.fitting.await(20, TimeUnit.SECONDS), "the learner starts its fit");
      } // close(): the learner is told STOPPED while it fits
      long closed = System.nanoTime();

      ExecutionException ended =
          assertThrows(ExecutionException.class, () -> learner.get(10, TimeUnit.SECONDS));
      FederationFailedException failure =
          assertInstanceOf(FederationFailedException.class, ended.getCause());
      assertEquals(FederationFailedException.Outcome.STOPPED, failure.outcome());
      assertTrue(System.nanoTime() - closed < TimeUnit.SECONDS.toNanos(5),
          "the learner ends once its fit returns, not after upload retries");
      String text = log.text();
      assertTrue(text.contains("site-a: the aggregator ended the federation (STOPPED"), text);
      assertTrue(text.contains("the aggregator ended the federation while this task ran "
          + "(STOPPED"), text);
      assertTrue(text.contains("the upload is not attempted"), text);
      assertFalse(text.contains("refused the upload"), text);
      assertFalse(text.contains("moved on"), text);
    }
  }
}
