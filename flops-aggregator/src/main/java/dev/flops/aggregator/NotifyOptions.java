package dev.flops.aggregator;

import dev.flops.aggregator.tracking.NotifyObserver;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The {@code --notify-url} options of an aggregator main, as a picocli mixin: the lifecycle events
 * are POSTed as JSON to an operator's endpoint by a {@link NotifyObserver}.
 *
 * <pre>{@code
 * @Mixin NotifyOptions notify = new NotifyOptions("my-federation");
 * ...
 * try (NotifyOptions flushed = notify;
 *     Aggregator aggregator = builder.build().start()) {
 *   aggregator.train(notify.applyTo(TrainingPlan.builder()).build(), strategy);
 * } // the aggregator closes first, then the queued events are sent (bounded wait)
 * }</pre>
 *
 * <p>Not thread-safe: a main's own thread applies and closes it.
 */
public final class NotifyOptions implements AutoCloseable {

  @Option(names = "--notify-url", paramLabel = "URL",
      description = "POST the lifecycle events (started, each round, succeeded or failed) as "
          + "JSON to URL, retrying with backoff; an endpoint that is down never stops training.")
  URI url;

  @Option(names = "--notify-timeout", paramLabel = "SECONDS", defaultValue = "10",
      description = "Seconds one notify attempt may take (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds = 10;

  @Option(names = "--notify-retries", paramLabel = "N", defaultValue = "5",
      description = "Retries of a notify POST that failed (default: ${DEFAULT-VALUE}).")
  int retries = 5;

  @Option(names = "--notify-close-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "Seconds the end of training waits for events not sent yet "
          + "(default: ${DEFAULT-VALUE}).")
  long closeTimeoutSeconds = 30;

  private final String federation;
  private NotifyObserver observer;

  /**
   * Creates the options.
   *
   * @param federation the name every event carries in its {@code federation} field
   */
  public NotifyOptions(String federation) {
    this.federation = federation == null ? "flops" : federation;
  }

  /**
   * With {@code --notify-url}, adds a notify observer to a training plan's builder (no thread
   * starts until the first event); without it, does nothing.
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException naming a bad URL, timeout or retry count
   * @throws IllegalStateException if applied twice
   */
  public TrainingPlan.Builder applyTo(TrainingPlan.Builder builder) {
    if (observer != null) {
      throw new IllegalStateException("the notify options were already applied to a builder");
    }
    if (url != null) {
      if (timeoutSeconds < 1) {
        throw new IllegalArgumentException("--notify-timeout must be at least 1 but was "
            + timeoutSeconds);
      }
      if (closeTimeoutSeconds < 0) {
        throw new IllegalArgumentException("--notify-close-timeout must not be negative but was "
            + closeTimeoutSeconds);
      }
      if (retries < 0 || retries > 100) {
        throw new IllegalArgumentException("--notify-retries must be from 0 to 100 but was "
            + retries);
      }
      URI checked;
      try {
        checked = new URI(url.toString()).parseServerAuthority();
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("--notify-url '" + url + "' is not a valid URL: "
            + e.getMessage());
      }
      observer = NotifyObserver.builder(checked)
          .federation(federation)
          .timeout(Duration.ofSeconds(timeoutSeconds))
          .retries(retries)
          .closeTimeout(Duration.ofSeconds(closeTimeoutSeconds))
          .build();
      builder.observer(observer);
    }
    return builder;
  }

  /**
   * Sends the events still queued, waiting at most {@code --notify-close-timeout}; does nothing
   * without {@code --notify-url}.
   */
  @Override
  public void close() {
    if (observer != null) {
      observer.close();
    }
  }
}
