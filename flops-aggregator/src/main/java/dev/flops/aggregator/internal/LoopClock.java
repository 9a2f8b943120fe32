package dev.flops.aggregator.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The round loop's time: reading it, and waiting for a phase with a timeout. The system clock in
 * production; tests inject a virtual one, so that timeouts, retries and stragglers run in
 * milliseconds without sleeping.
 */
public interface LoopClock {

  /**
   * Returns the current time.
   *
   * @return nanoseconds from an arbitrary origin, as {@link System#nanoTime()}
   */
  long nanoTime();

  /**
   * Waits until {@code future} completes or {@code timeoutNanos} pass.
   *
   * @param future what to wait for
   * @param timeoutNanos the longest wait, positive
   * @return whether the future completed
   * @throws InterruptedException if the waiting thread is interrupted
   */
  boolean await(CompletableFuture<?> future, long timeoutNanos) throws InterruptedException;

  /** The system clock: {@link System#nanoTime()} and a blocking wait. */
  LoopClock SYSTEM = new LoopClock() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }

    @Override
    public boolean await(CompletableFuture<?> future, long timeoutNanos)
        throws InterruptedException {
      try {
        future.get(timeoutNanos, TimeUnit.NANOSECONDS);
        return true;
      } catch (TimeoutException e) {
        return false;
      } catch (ExecutionException e) {
        return true;
      }
    }
  };
}
