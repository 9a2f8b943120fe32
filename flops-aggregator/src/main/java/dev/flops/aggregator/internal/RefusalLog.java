package dev.flops.aggregator.internal;

import org.slf4j.Logger;

/**
 * Logs refused calls without letting a flood of them flood the log: at most one line a second,
 * each saying how many refusals went unlogged since the previous line.
 */
final class RefusalLog {
  private static final long INTERVAL_NANOS = 1_000_000_000L;

  private final Logger log;
  private long lastLogged = System.nanoTime() - INTERVAL_NANOS;
  private long suppressed;

  RefusalLog(Logger log) {
    this.log = log;
  }

  /** Logs a refusal at WARN unless one was logged less than a second ago. */
  synchronized void refused(String what) {
    long now = System.nanoTime();
    if (now - lastLogged < INTERVAL_NANOS) {
      suppressed++;
      return;
    }
    lastLogged = now;
    if (suppressed > 0) {
      log.warn("{} ({} similar refusals in the last second not logged)", what, suppressed);
      suppressed = 0;
    } else {
      log.warn(what);
    }
  }
}
