package dev.flops.aggregator.internal.tracking;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends tracking calls in order on one background thread, so that training never waits for the
 * tracking backend. A call that fails with a retryable error (backend unreachable, 5xx) is retried
 * with exponential backoff and jitter until it succeeds or the outbox is flushed past its
 * deadline; one that fails for good (4xx) is dropped and reported. The first failure logs one
 * warning; {@link #flush} reports what was never sent.
 */
final class Outbox {
  private static final Logger log = LoggerFactory.getLogger(Outbox.class);

  /** One tracking call. */
  interface Call {
    void run() throws Exception;
  }

  /** A call whose prerequisite (e.g. creating its run) never succeeded. */
  static final class Skipped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Skipped(String message) {
      super(message);
    }
  }

  private record Item(String description, Call call) {}

  private final TrackingStore store;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Deque<Item> queue = new ArrayDeque<>();
  private final List<String> unsent = new ArrayList<>();
  private final Thread sender;
  private boolean busy;
  private String current;
  private boolean giveUp;
  private boolean closed;
  private boolean warned;
  private boolean failing;
  private int sent;

  Outbox(TrackingStore store, Duration initialBackoff, Duration maxBackoff) {
    this.store = store;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.sender = new Thread(this::sendLoop, "flops-tracking");
    sender.setDaemon(true);
    sender.start();
  }

  /** Queues a call; after {@link #close()} it is reported unsent at once. */
  synchronized void submit(String description, Call call) {
    if (closed) {
      unsent.add(description + " (tracking already closed)");
      return;
    }
    queue.add(new Item(description, call));
    notifyAll();
  }

  /**
   * Waits until every queued call has been sent or {@code timeout} has passed; then gives up on
   * what is left (the call in progress stops retrying) and returns every call never sent, in
   * order, with the reason.
   */
  List<String> flush(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (!queue.isEmpty() || busy) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        wait(Math.max(1, left / 1_000_000));
      }
      if (!queue.isEmpty() || busy) {
        giveUp = true;
        notifyAll();
        long hardStop = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (busy && System.nanoTime() < hardStop) {
          wait(100);
        }
        if (busy) {
          unsent.add(current + " (still waiting for the backend; abandoned)");
        }
        for (Item item : queue) {
          unsent.add(item.description + " (not sent within the flush timeout of " + timeout + ")");
        }
        queue.clear();
        giveUp = false;
      }
      return List.copyOf(unsent);
    }
  }

  /** Stops the sender; calls still queued are reported unsent. */
  synchronized void close() {
    closed = true;
    for (Item item : queue) {
      unsent.add(item.description + " (tracking closed)");
    }
    queue.clear();
    notifyAll();
  }

  synchronized int sentCount() {
    return sent;
  }

  private void sendLoop() {
    while (true) {
      Item item;
      synchronized (this) {
        while (queue.isEmpty() && !closed) {
          try {
            wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed && queue.isEmpty()) {
          return;
        }
        item = queue.poll();
        busy = true;
        current = item.description;
      }
      String failure = send(item);
      synchronized (this) {
        busy = false;
        if (failure == null) {
          sent++;
        } else {
          unsent.add(item.description + " (" + failure + ")");
        }
        notifyAll();
      }
    }
  }

  /** Sends one call, retrying; returns null on success, else why it was not sent. */
  private String send(Item item) {
    long delay = initialBackoff.toMillis();
    while (true) {
      try {
        item.call.run();
        recovered();
        return null;
      } catch (Skipped e) {
        return e.getMessage();
      } catch (Exception e) {
        boolean retryable = store.isRetryable(e);
        String reason = e.getClass().getSimpleName() + ": " + e.getMessage();
        if (!retryable) {
          log.warn("MLflow tracking at {} refused {}: {}; this call is dropped and reported at "
              + "the end, training goes on", store.uri(), item.description, reason);
          return "refused: " + reason;
        }
        failed(item, reason);
        synchronized (this) {
          long jittered = delay / 2 + ThreadLocalRandom.current().nextLong(delay / 2 + 1);
          long until = System.nanoTime() + jittered * 1_000_000;
          while (!giveUp && !closed && System.nanoTime() < until) {
            try {
              wait(Math.max(1, (until - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException interrupted) {
              return "interrupted: " + reason;
            }
          }
          if (giveUp || closed) {
            return "gave up after retrying: " + reason;
          }
        }
        delay = Math.min(maxBackoff.toMillis(), delay * 2);
      }
    }
  }

  private synchronized void failed(Item item, String reason) {
    if (!warned) {
      warned = true;
      log.warn("MLflow tracking at {} is failing ({} on {}); training goes on, tracking calls are "
          + "retried with backoff and what cannot be sent is reported at the end",
          store.uri(), reason, item.description);
    } else {
      log.debug("tracking call {} failed again: {}", item.description, reason);
    }
    failing = true;
  }

  private synchronized void recovered() {
    if (failing) {
      failing = false;
      log.info("MLflow tracking at {} works again", store.uri());
    }
  }
}
