package dev.flops.aggregator.internal;

import java.time.Duration;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;

/**
 * Virtual time for the round loop: nothing sleeps. Waiting runs the scheduled events in time order
 * up to the deadline, so a 10 minute round timeout passes in microseconds. Single-threaded: the
 * loop's thread runs every event.
 */
final class FakeClock implements LoopClock {
  private record Event(long at, long order, Runnable action) {}

  private final PriorityQueue<Event> events = new PriorityQueue<>(
      (a, b) -> a.at != b.at ? Long.compare(a.at, b.at) : Long.compare(a.order, b.order));
  private long now;
  private long scheduled;

  /** Runs {@code action} once the virtual time reaches now + {@code delay}. */
  void schedule(Duration delay, Runnable action) {
    events.add(new Event(now + delay.toNanos(), scheduled++, action));
  }

  /** The virtual time elapsed since the clock was made. */
  Duration elapsed() {
    return Duration.ofNanos(now);
  }

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public boolean await(CompletableFuture<?> future, long timeoutNanos) {
    long deadline = now + timeoutNanos;
    while (!future.isDone()) {
      Event next = events.peek();
      if (next == null || next.at > deadline) {
        now = deadline;
        return future.isDone();
      }
      events.poll();
      now = Math.max(now, next.at);
      next.action.run();
    }
    return true;
  }

  /** Runs events until {@code condition} holds or {@code timeoutNanos} pass; returns whether it held. */
  boolean awaitCondition(java.util.function.BooleanSupplier condition, long timeoutNanos) {
    long deadline = now + timeoutNanos;
    while (!condition.getAsBoolean()) {
      Event next = events.peek();
      if (next == null || next.at > deadline) {
        now = deadline;
        return condition.getAsBoolean();
      }
      events.poll();
      now = Math.max(now, next.at);
      next.action.run();
    }
    return true;
  }
}
