package dev.flops.aggregator;

import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

/**
 * An observer of a cluster's trainings that records its fit cycles and, once the cluster has
 * finished the cycles of its {@code n}-th fitting training (root round n), holds the cluster's
 * learner thread until {@link #release} counts down: the cluster's result for that root round is
 * then not yet sent, so a test can crash the root at a known point.
 */
final class ClusterHold implements FederationObserver {
  /** Every cycle in which someone fitted, in order. */
  final List<RoundSummary> fitCycles = new CopyOnWriteArrayList<>();
  /** Counts down when the cluster is held. */
  final CountDownLatch held = new CountDownLatch(1);
  /** Count it down to let the cluster go on. */
  final CountDownLatch release = new CountDownLatch(1);
  private final int holdAfter;
  private int trainings;

  ClusterHold(int holdAfterTraining) {
    this.holdAfter = holdAfterTraining;
  }

  @Override
  public void onRoundFinished(RoundSummary summary) {
    if (summary.fitSucceeded() > 0) {
      fitCycles.add(summary);
    }
  }

  @Override
  public void onTrainingSucceeded(TrainingResult result) {
    if (result.finalRound().fitSucceeded() > 0 && ++trainings == holdAfter) {
      held.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
