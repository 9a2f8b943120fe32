package dev.flops.aggregator.tracking;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An observer that POSTs the federation's lifecycle events as JSON to an operator's HTTP
 * endpoint, so that a service learns how a training went without reading logs: the same objects
 * as the {@link EventLog}'s lines (schema {@value EventLog#SCHEMA}, docs/tracking.md) plus a
 * {@code "sequence"} number (0, 1, 2... per observer) by which a receiver can drop the duplicate
 * that a retry after a lost answer makes.
 *
 * <p>Delivery never blocks or fails training: the observer methods only turn the event into JSON
 * and queue it; one background thread (started at the first event, not by {@link
 * Builder#build()}) POSTs the events in order. An answer 2xx is delivered; a connection error, a
 * timeout, 408, 429 or 5xx is retried after an exponential backoff (initial backoff, doubling, up
 * to the maximum: {@link Builder#backoff}); any other answer is not retried. An event that could
 * not be delivered is logged as a warning with its type and the last error, and counted in {@link
 * #undelivered()}; the next event is then tried. At most {@link Builder#queueCapacity} events wait;
 * more are dropped with a warning.
 *
 * <p>{@link #close()} waits up to {@link Builder#closeTimeout} for the queued events (call it when
 * training has ended, so that the final event is sent before the process exits), then gives up on
 * the rest with a warning. Thread-safe.
 *
 * <pre>{@code
 * try (NotifyObserver notify = NotifyObserver.builder(URI.create("http://ops:8080/flops"))
 *         .federation("fashion-mnist").build();
 *     Aggregator aggregator = Aggregator.builder()...build().start()) {
 *   aggregator.train(TrainingPlan.builder().observer(notify).build(), strategy);
 * }
 * }</pre>
 */
public final class NotifyObserver implements FederationObserver, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NotifyObserver.class);
  private static final Gson GSON =
      new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private final URI url;
  private final Duration timeout;
  private final int retries;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Duration closeTimeout;
  private final EventJson json;
  private final ExecutorService sender;
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong delivered = new AtomicLong();
  private final AtomicLong undelivered = new AtomicLong();
  /** Created on the sender thread at the first event: the JDK client starts a thread of its own. */
  private HttpClient client;

  private NotifyObserver(Builder builder) {
    this.url = builder.url;
    this.timeout = builder.timeout;
    this.retries = builder.retries;
    this.initialBackoff = builder.initialBackoff;
    this.maxBackoff = builder.maxBackoff;
    this.closeTimeout = builder.closeTimeout;
    this.json = new EventJson(builder.federation, builder.clock);
    // A ThreadPoolExecutor starts its thread at the first task, so build() starts none.
    this.sender = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
        new LinkedBlockingQueue<>(builder.queueCapacity), runnable -> {
          Thread thread = new Thread(runnable, "flops-notify");
          thread.setDaemon(true);
          return thread;
        });
  }

  /**
   * Starts a builder.
   *
   * @param url the endpoint events are POSTed to: {@code http} or {@code https} with a host
   * @return the builder
   * @throws IllegalArgumentException if the URL is not absolute http(s) with a host
   */
  public static Builder builder(URI url) {
    return new Builder(url);
  }

  /**
   * Returns the endpoint.
   *
   * @return the URL events are POSTed to
   */
  public URI url() {
    return url;
  }

  /**
   * Returns how many events the endpoint accepted so far.
   *
   * @return the count of events answered 2xx
   */
  public long delivered() {
    return delivered.get();
  }

  /**
   * Returns how many events were given up so far: retries exhausted, an answer not worth
   * retrying, a full queue, or still queued when {@link #close()} stopped waiting.
   *
   * @return the count of events not delivered
   */
  public long undelivered() {
    return undelivered.get();
  }

  @Override
  public void onTrainingStarted(TrainingStarted event) {
    enqueue(() -> json.started(event), "training_started");
  }

  @Override
  public void onRoundFinished(RoundSummary summary) {
    enqueue(() -> json.roundFinished(summary), "round_finished " + summary.round());
  }

  @Override
  public void onTrainingSucceeded(TrainingResult result) {
    enqueue(() -> json.succeeded(result), "training_succeeded");
  }

  @Override
  public void onTrainingFailed(Throwable cause) {
    enqueue(() -> json.failed(cause), "training_failed");
  }

  private void enqueue(Supplier<JsonObject> event, String what) {
    try {
      JsonObject body = event.get();
      body.addProperty("sequence", sequence.getAndIncrement());
      String text = GSON.toJson(body);
      sender.execute(() -> deliver(text, what));
    } catch (RejectedExecutionException e) {
      undelivered.incrementAndGet();
      log.warn("notify {}: dropped {}: {}", url, what, sender.isShutdown()
          ? "the observer is closed"
          : "too many events wait for delivery (the endpoint is slow or down)");
    } catch (RuntimeException e) {
      undelivered.incrementAndGet();
      log.warn("notify {}: could not prepare {}: {}", url, what, e.toString());
    }
  }

  /** Runs on the sender thread only. */
  private void deliver(String body, String what) {
    if (client == null) {
      // HTTP/1.1: an h2c upgrade offer confuses some plain endpoints and buys nothing here.
      client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(timeout).build();
    }
    HttpRequest request = HttpRequest.newBuilder(url)
        .timeout(timeout)
        .header("Content-Type", "application/json; charset=utf-8")
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
        .build();
    String lastError = null;
    Duration backoff = initialBackoff;
    for (int attempt = 1; attempt <= retries + 1; attempt++) {
      boolean retryable;
      try {
        int status = client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
        if (status / 100 == 2) {
          delivered.incrementAndGet();
          return;
        }
        lastError = "HTTP " + status;
        retryable = status >= 500 || status == 408 || status == 429;
      } catch (IOException e) {
        lastError = e.toString();
        retryable = true;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        lastError = "interrupted by close()";
        retryable = false;
      }
      if (!retryable || attempt == retries + 1) {
        break;
      }
      log.debug("notify {}: attempt {} of {} failed ({}); retrying in {} ms", url, attempt, what,
          lastError, backoff.toMillis());
      try {
        Thread.sleep(backoff.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        lastError += "; then interrupted by close()";
        break;
      }
      Duration doubled = backoff.multipliedBy(2);
      backoff = doubled.compareTo(maxBackoff) > 0 ? maxBackoff : doubled;
    }
    undelivered.incrementAndGet();
    log.warn("notify {}: could not deliver {} ({}); training goes on without it", url, what,
        lastError);
  }

  /**
   * Waits up to the close timeout for the queued events to be delivered, then stops; events still
   * waiting are counted as undelivered and logged. Events that arrive after this are dropped.
   * Idempotent.
   */
  @Override
  public void close() {
    if (sender.isShutdown()) {
      return;
    }
    sender.shutdown();
    boolean done;
    try {
      done = sender.awaitTermination(closeTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      done = false;
    }
    if (!done) {
      int waiting = sender.shutdownNow().size();
      undelivered.addAndGet(waiting);
      try {
        // The interrupted attempt in flight counts itself as undelivered and logs it.
        sender.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      log.warn(String.format(Locale.ROOT,
          "notify %s: gave up after waiting %d s at close; %d event(s) still queued were not sent",
          url, closeTimeout.toSeconds(), waiting));
    }
  }

  /**
   * Configures a {@link NotifyObserver}. Every setter checks its value at once; {@link #build()}
   * starts nothing.
   */
  public static final class Builder {
    private final URI url;
    private String federation = "flops";
    private Duration timeout = Duration.ofSeconds(10);
    private int retries = 5;
    private Duration initialBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration closeTimeout = Duration.ofSeconds(30);
    private int queueCapacity = 10_000;
    private Clock clock = Clock.systemUTC();

    private Builder(URI url) {
      Objects.requireNonNull(url, "url");
      String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || url.getHost() == null) {
        throw new IllegalArgumentException("the notify URL must be http://host[:port]/path or "
            + "https://..., but was '" + url + "'");
      }
      this.url = url;
    }

    /**
     * Sets the name written in every event's {@code federation} field.
     *
     * @param name the federation's name, e.g. the MLflow experiment (default {@code flops})
     * @return this builder
     */
    public Builder federation(String name) {
      this.federation = Objects.requireNonNull(name, "federation");
      return this;
    }

    /**
     * Sets how long one attempt may take, to connect and to get the answer.
     *
     * @param timeout positive (default 10 s)
     * @return this builder
     * @throws IllegalArgumentException if not positive
     */
    public Builder timeout(Duration timeout) {
      this.timeout = positive(timeout, "timeout");
      return this;
    }

    /**
     * Sets how many times a failed attempt is retried.
     *
     * @param retries from 0 to 100 (default 5)
     * @return this builder
     * @throws IllegalArgumentException if outside that range
     */
    public Builder retries(int retries) {
      if (retries < 0 || retries > 100) {
        throw new IllegalArgumentException("retries must be from 0 to 100 but was " + retries);
      }
      this.retries = retries;
      return this;
    }

    /**
     * Sets the wait before the first retry; each further retry waits twice as long, up to the
     * maximum backoff.
     *
     * @param initial positive (default 500 ms)
     * @param max at least {@code initial} (default 30 s)
     * @return this builder
     * @throws IllegalArgumentException if not positive, or max below initial
     */
    public Builder backoff(Duration initial, Duration max) {
      positive(initial, "initial backoff");
      positive(max, "max backoff");
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException("the max backoff " + max
            + " is below the initial backoff " + initial + "; raise it");
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /**
     * Sets how long {@link NotifyObserver#close()} waits for queued events.
     *
     * @param timeout zero or more (default 30 s)
     * @return this builder
     * @throws IllegalArgumentException if negative
     */
    public Builder closeTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "closeTimeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("closeTimeout must not be negative but was " + timeout);
      }
      this.closeTimeout = timeout;
      return this;
    }

    /**
     * Sets how many events may wait for delivery; more are dropped with a warning.
     *
     * @param capacity at least 1 (default 10,000)
     * @return this builder
     * @throws IllegalArgumentException if below 1
     */
    public Builder queueCapacity(int capacity) {
      if (capacity < 1) {
        throw new IllegalArgumentException("queueCapacity must be at least 1 but was " + capacity);
      }
      this.queueCapacity = capacity;
      return this;
    }

    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Creates the observer; no thread and no connection until the first event.
     *
     * @return the observer, to add with {@code Aggregator.Builder.observer} and to close when
     *     training has ended
     */
    public NotifyObserver build() {
      return new NotifyObserver(this);
    }

    private static Duration positive(Duration value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive but was " + value);
      }
      return value;
    }
  }
}
