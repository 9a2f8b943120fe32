package dev.flops.aggregator.internal;

import dev.flops.proto.codec.Durations;
import dev.flops.proto.v1.TaskKind;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits for a phase's tasks and, while they run, logs every {@code interval} how far the phase got
 * (e.g. {@code round 2 fit: 3 of 5 updates in, 1 uploading, 1 download streaming, 1 learner still
 * training; 40 s}), so that a person watching a federation whose learners train for minutes sees
 * that it is alive and what it waits for. A phase that ends within the interval logs nothing.
 *
 * <p>Reads only: the counts come from the tasks' own state and the transfer pools, each read
 * without a lock, so a line may be a moment out of date but never blocks a transfer.
 */
final class PhaseProgress {
  private static final Logger log = LoggerFactory.getLogger(PhaseProgress.class);

  private final Duration interval;
  private final TransferSlots downloads;

  /**
   * @param interval how often a running phase is reported; positive
   * @param downloads the pool whose held slots are the downloads streaming now
   */
  PhaseProgress(Duration interval, TransferSlots downloads) {
    if (interval.isZero() || interval.isNegative()) {
      throw new IllegalArgumentException("progress interval must be positive but was "
          + Durations.forPeople(interval));
    }
    this.interval = interval;
    this.downloads = downloads;
  }

  /** How often a running phase (or a wait for learners) is reported. */
  Duration interval() {
    return interval;
  }

  /**
   * Waits until {@code all} completes or {@code timeout} passes, logging progress meanwhile.
   *
   * @throws TimeoutException once {@code timeout} has passed with tasks still open
   */
  void await(CompletableFuture<?> all, List<PendingTask> tasks, Duration timeout)
      throws InterruptedException, ExecutionException, TimeoutException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException();
      }
      try {
        all.get(Math.min(left, interval.toNanos()), TimeUnit.NANOSECONDS);
        return;
      } catch (TimeoutException notYet) {
        if (deadline - System.nanoTime() > 0) {
          log.info(describe(tasks, downloads.held(), Duration.ofNanos(System.nanoTime() - start)));
        }
      }
    }
  }

  /**
   * Describes a running phase: results in, failed, uploads under way, downloads streaming and the
   * learners still working on their task.
   */
  static String describe(List<PendingTask> tasks, int downloadsStreaming, Duration elapsed) {
    int in = 0;
    int failed = 0;
    int uploading = 0;
    for (PendingTask task : tasks) {
      if (task.isDone()) {
        if (task.failureReason() == null) {
          in++;
        } else {
          failed++;
        }
      } else if (task.uploadStarted()) {
        uploading++;
      }
    }
    int open = tasks.size() - in - failed;
    // Downloads count across the aggregator; within a phase they belong to its open tasks.
    int downloading = Math.min(downloadsStreaming, open - uploading);
    int working = open - uploading - downloading;
    boolean fit = !tasks.isEmpty() && tasks.get(0).kind == TaskKind.FIT;
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d %s: %d of %d %s in",
        tasks.isEmpty() ? 0 : tasks.get(0).round, fit ? "fit" : "evaluate", in, tasks.size(),
        fit ? "updates" : "results"));
    if (failed > 0) {
      line.append(", ").append(failed).append(" failed");
    }
    if (uploading > 0) {
      line.append(", ").append(uploading).append(uploading == 1 ? " upload" : " uploads")
          .append(" under way");
    }
    if (downloading > 0) {
      line.append(", ").append(downloading).append(downloading == 1 ? " download" : " downloads")
          .append(" streaming");
    }
    if (working > 0) {
      line.append(", ").append(working).append(working == 1 ? " learner" : " learners")
          .append(fit ? " still training" : " still evaluating");
    }
    return line.append(String.format(Locale.ROOT, "; %d s", elapsed.toSeconds())).toString();
  }
}
