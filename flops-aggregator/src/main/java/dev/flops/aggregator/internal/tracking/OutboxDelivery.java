package dev.flops.aggregator.internal.tracking;

import dev.flops.aggregator.tracking.Tracking;
import java.time.Duration;
import java.util.List;

/** Delivers an outbox without a training, for {@code TrackingOutbox.flush}. */
public final class OutboxDelivery {
  private OutboxDelivery() {}

  /** What a delivery did. */
  public record Outcome(String trackingUri, int delivered, int pending, List<String> refused) {}

  /** Loads the outbox for the tracking's URI, sends its calls, keeps what is still undelivered. */
  public static Outcome deliver(Tracking tracking, Duration timeout) throws InterruptedException {
    try (Tracker tracker = Tracker.open(tracking.systemMetricsInterval(Duration.ZERO), "")) {
      return tracker.deliverOutbox(timeout);
    }
  }
}
