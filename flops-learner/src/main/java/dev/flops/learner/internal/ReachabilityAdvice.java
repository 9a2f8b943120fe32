package dev.flops.learner.internal;

import dev.flops.proto.codec.Durations;
import io.grpc.Status;
import java.net.ConnectException;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Says early why a learner cannot reach its aggregator, and what to change.
 *
 * <p>The learner retries an unreachable aggregator for its whole connectTimeout (10 minutes by
 * default), because an aggregator that starts after its learners is normal. But a mistake (a
 * wrong port, TLS on one side only) fails the same way on every attempt, and a person watching
 * should learn that within seconds, not when the timeout expires. So after {@link
 * #WARN_AFTER_ATTEMPTS} failed attempts, or {@link #WARN_AFTER} of them, whichever comes first, one
 * warning says what most likely is wrong, and it is repeated every {@link #REPEAT} while the
 * attempts go on. Used by the one thread that runs the learner; not thread-safe.
 */
public final class ReachabilityAdvice {
  /** Failed attempts before the first warning: one or two can be an aggregator still starting. */
  public static final int WARN_AFTER_ATTEMPTS = 3;
  /** Time of failed attempts before the first warning, if there were fewer attempts. */
  public static final Duration WARN_AFTER = Duration.ofSeconds(30);
  /** Time between repeated warnings. */
  public static final Duration REPEAT = Duration.ofMinutes(3);

  private final String aggregator;
  private final boolean tls;
  private final LongSupplier nanoClock;
  private int failures;
  private long firstFailureNanos;
  private long lastWarningNanos;
  private boolean warned;

  /**
   * Creates the advice for one learner.
   *
   * @param aggregator the aggregator's address as the user gave it, e.g. {@code host:port}
   * @param tls whether the learner connects with TLS
   * @param nanoClock a monotonic clock in nanoseconds, e.g. {@code System::nanoTime}
   */
  public ReachabilityAdvice(String aggregator, boolean tls, LongSupplier nanoClock) {
    this.aggregator = aggregator;
    this.tls = tls;
    this.nanoClock = nanoClock;
  }

  /** Starts over: the learner reached the aggregator. */
  public void reset() {
    failures = 0;
    warned = false;
  }

  /**
   * Records a failed attempt to reach the aggregator.
   *
   * @param status how the attempt failed, or null if not known
   * @return the warning to log now, or null if it is too early or too soon after the last one
   */
  public String failed(Status status) {
    long now = nanoClock.getAsLong();
    if (failures++ == 0) {
      firstFailureNanos = now;
    }
    Duration trying = Duration.ofNanos(now - firstFailureNanos);
    boolean due = warned
        ? now - lastWarningNanos >= REPEAT.toNanos()
        : failures >= WARN_AFTER_ATTEMPTS || trying.compareTo(WARN_AFTER) >= 0;
    if (!due) {
      return null;
    }
    warned = true;
    lastWarningNanos = now;
    return String.format("the aggregator at %s is still not reachable after %d attempts over %s; "
        + "%s", aggregator, failures, Durations.forPeople(trying), advice(status));
  }

  /**
   * Says what most likely keeps the aggregator out of reach, given how the last attempt failed,
   * and what to change.
   *
   * @param status how the last attempt failed, or null if not known
   * @return the advice, e.g. "nothing accepts connections at that address ..."
   */
  public String advice(Status status) {
    if (status != null && causedBy(status, ConnectException.class.getSimpleName())) {
      return "nothing accepts connections at " + aggregator + " (connection refused): check that "
          + "the aggregator is running and that the port is right (the aggregator logs "
          + "'aggregator listening on HOST:PORT' when it starts)";
    }
    if (tls && status != null && causedBy(status, "NotSslRecordException")) {
      return "the aggregator answers without TLS but this learner uses TLS: give the aggregator a "
          + "certificate (--tls-cert, --tls-key), or run this learner without TLS (no "
          + "--trust-file) if the network between them is trusted";
    }
    return "check that it is running and that the address is right" + (tls
        ? "; this learner uses TLS: if the aggregator runs without it, give the aggregator a "
            + "certificate (--tls-cert, --tls-key)"
        : "; if it runs TLS, give this learner the root certificate that signed the "
            + "aggregator's (--trust-file)");
  }

  /**
   * Whether a throwable of this simple class name, or a subclass, is in the status's causes: by
   * name, because Netty's exceptions come from the shaded grpc-netty, whose package a learner
   * built with another transport does not have.
   */
  private static boolean causedBy(Status status, String simpleName) {
    for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
      for (Class<?> c = t.getClass(); c != null; c = c.getSuperclass()) {
        if (c.getSimpleName().equals(simpleName)) {
          return true;
        }
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }
}
