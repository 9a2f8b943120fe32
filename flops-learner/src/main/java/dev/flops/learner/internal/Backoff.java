package dev.flops.learner.internal;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [base/2, base] where base
 * doubles from the initial delay up to the maximum. Jitter keeps a fleet of learners that lost
 * their aggregator from reconnecting in lockstep.
 */
public final class Backoff {
  private final long initialMillis;
  private final long maxMillis;
  private final RandomGenerator random;
  private long currentMillis;

  public Backoff(Duration initial, Duration max, RandomGenerator random) {
    this.initialMillis = Math.max(1, initial.toMillis());
    this.maxMillis = Math.max(initialMillis, max.toMillis());
    this.random = random;
    this.currentMillis = initialMillis;
  }

  /** Returns the next delay and doubles the base, up to the maximum. */
  public Duration next() {
    long base = currentMillis;
    currentMillis = Math.min(maxMillis, currentMillis * 2);
    long half = base / 2;
    return Duration.ofMillis(half + (long) (random.nextDouble() * (base - half + 1)));
  }

  /** Starts again from the initial delay, after a successful connection. */
  public void reset() {
    currentMillis = initialMillis;
  }
}
