package dev.flops.aggregator.internal;

import dev.flops.proto.codec.Durations;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits for a phase's tasks and, while they run, logs every {@code interval} how far the phase got
 * (e.g. {@code round 2 fit: 3 of 5 updates in, 1 uploading, 1 download streaming, 1 learner still
 * training; 40 s}), so that a person watching a federation whose learners train for minutes sees
 * that it is alive and what it waits for. A phase that ends within the interval logs nothing.
 *
 * <p>What the line says comes from the phase ({@link Phase#describeProgress}).
 */
final class PhaseProgress {
  private static final Logger log = LoggerFactory.getLogger(PhaseProgress.class);

  private final Duration interval;
  private final LoopClock clock;

  /**
   * @param interval how often a running phase is reported; positive
   * @param clock the loop's time
   */
  PhaseProgress(Duration interval, LoopClock clock) {
    if (interval.isZero() || interval.isNegative()) {
      throw new IllegalArgumentException("progress interval must be positive but was "
          + Durations.forPeople(interval));
    }
    this.interval = interval;
    this.clock = clock;
  }

  /** How often a running phase (or a wait for learners) is reported. */
  Duration interval() {
    return interval;
  }

  /**
   * Waits until {@code all} completes or {@code timeout} passes, logging the phase's progress
   * meanwhile.
   *
   * @return whether every task ended in time
   */
  boolean await(CompletableFuture<?> all, Phase phase, Duration timeout)
      throws InterruptedException {
    long start = clock.nanoTime();
    long deadline = start + timeout.toNanos();
    while (true) {
      long left = deadline - clock.nanoTime();
      if (left <= 0) {
        return false;
      }
      if (clock.await(all, Math.min(left, interval.toNanos()))) {
        return true;
      }
      if (deadline - clock.nanoTime() > 0) {
        log.info(phase.describeProgress(Duration.ofNanos(clock.nanoTime() - start)));
      }
    }
  }
}
