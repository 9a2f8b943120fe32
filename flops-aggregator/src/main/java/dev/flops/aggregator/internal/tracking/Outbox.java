package dev.flops.aggregator.internal.tracking;

import com.google.gson.JsonObject;
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
 * tracking backend. A call that fails with a retryable error (backend unreachable, 408, 429, 5xx)
 * is retried with exponential backoff and jitter until it succeeds or the outbox is flushed past
 * its deadline; one that fails for good (any other 4xx) is dropped and reported. A refusal of the
 * credentials (401, 403) is not retried either, but nothing is dropped: sending stops, and that
 * call and every later one are kept for the outbox on disk, to be delivered once the credentials
 * are fixed. The first failure logs one warning.
 *
 * <p>Calls are data ({@link Call}), not closures, so that what is still undelivered at the end can
 * be written to disk by {@link OutboxFile} and delivered by a later process: {@link #flush}
 * returns the calls it could not send, the one in progress first. While the backend fails, the
 * {@link Journal} also gets every pending call before each wait between retries (so a process
 * killed during an outage loses at most what came in during the last backoff), and is told when
 * everything went out.
 */
final class Outbox {
  private static final Logger log = LoggerFactory.getLogger(Outbox.class);

  /**
   * One tracking call: what to do ({@code kind}) and with what ({@code args}, JSON), within a
   * {@code session} (one training) whose named references (runs, the experiment, the model) the
   * {@link Runner} resolves.
   */
  record Call(String session, String kind, String description, JsonObject args) {}

  /** Runs one call against the backend; throws on failure. */
  interface Runner {
    void run(Call call) throws Exception;

    /** Tells whether trying a failed call again may succeed. */
    boolean isRetryable(Exception failure);

    /**
     * Tells whether the backend refused the credentials: no call can succeed until they change,
     * so none is tried again and none is dropped.
     */
    default boolean isCredentialFailure(Exception failure) {
      return false;
    }

    /** The backend, as it may be printed. */
    String uri();
  }

  /** Keeps the pending calls on disk while the backend fails; called on the sender thread. */
  interface Journal {
    /** Records every call not yet delivered, in order (replacing what was recorded before). */
    void save(List<Call> pending);

    /** Everything submitted so far was delivered or dropped: nothing needs keeping. */
    void drained();

    Journal NONE = new Journal() {
      @Override
      public void save(List<Call> pending) {}

      @Override
      public void drained() {}
    };
  }

  /** A call whose prerequisite (e.g. creating its run) failed for good. */
  static final class Skipped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Skipped(String message) {
      super(message);
    }
  }

  /** What a flush leaves: the calls never sent (to keep), and those dropped for good (to report). */
  record Result(List<Call> pending, List<String> dropped, int delivered) {}

  private final Runner runner;
  private final Journal journal;
  /** Counts submissions, so that the journal is rewritten only when something was added. */
  private long submitted;
  private long journaled = -1;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Deque<Call> queue = new ArrayDeque<>();
  private final List<String> dropped = new ArrayList<>();
  private final Thread sender;
  private Call current;
  private boolean giveUp;
  /** Set once the credentials were refused: nothing more is sent by this outbox. */
  private String paused;
  private boolean closed;
  private boolean warned;
  private boolean failing;
  private int sent;

  Outbox(Runner runner, Duration initialBackoff, Duration maxBackoff) {
    this(runner, Journal.NONE, initialBackoff, maxBackoff);
  }

  Outbox(Runner runner, Journal journal, Duration initialBackoff, Duration maxBackoff) {
    this.runner = runner;
    this.journal = journal;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.sender = new Thread(this::sendLoop, "flops-tracking");
    sender.setDaemon(true);
    sender.start();
  }

  /** Queues a call; after {@link #close()} it is reported as dropped. */
  synchronized void submit(Call call) {
    if (closed) {
      dropped.add(call.description() + " (tracking already closed)");
      return;
    }
    queue.add(call);
    submitted++;
    notifyAll();
  }

  /** Queues calls as one step, so that no drain is reported between them. */
  synchronized void submitAll(List<Call> calls) {
    calls.forEach(this::submit);
  }

  /**
   * Waits until every queued call has been sent or {@code timeout} has passed; then stops retrying
   * and returns what was not sent (the call in progress first, then the queue, in order), which
   * leaves the outbox empty, and what was dropped for good.
   */
  Result flush(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while ((!queue.isEmpty() || current != null) && paused == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        wait(Math.max(1, left / 1_000_000));
      }
      List<Call> pending = new ArrayList<>();
      if (!queue.isEmpty() || current != null) {
        giveUp = true;
        notifyAll();
        long hardStop = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (current != null && System.nanoTime() < hardStop) {
          wait(100);
        }
        if (current != null) {
          // Still inside a request: keep it too; a replay may deliver it twice, never zero times.
          pending.add(current);
          current = null;
        }
        pending.addAll(queue);
        queue.clear();
        giveUp = false;
      }
      Result result = new Result(List.copyOf(pending), List.copyOf(dropped), sent);
      dropped.clear();
      return result;
    }
  }

  /** Stops the sender; returns the calls still queued (for the caller to keep). */
  synchronized List<Call> close() {
    closed = true;
    List<Call> pending = new ArrayList<>();
    if (current != null) {
      pending.add(current);
      current = null; // its late outcome is ignored: the caller keeps it
    }
    pending.addAll(queue);
    queue.clear();
    notifyAll();
    return pending;
  }

  synchronized int sentCount() {
    return sent;
  }

  /** Why sending stopped (the credentials were refused), or null while it goes on. */
  synchronized String paused() {
    return paused;
  }

  private void sendLoop() {
    while (true) {
      Call call;
      synchronized (this) {
        while ((queue.isEmpty() || giveUp || paused != null) && !closed) {
          try {
            wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed) {
          return;
        }
        call = queue.poll();
        current = call;
      }
      Outcome outcome = send(call);
      boolean drained;
      synchronized (this) {
        if (current == call) {
          current = null;
          switch (outcome.kind) {
            case SENT -> sent++;
            case DROPPED -> dropped.add(call.description() + " (" + outcome.reason + ")");
            case GAVE_UP -> queue.addFirst(call);
            case PAUSED -> {
              queue.addFirst(call);
              paused = outcome.reason;
            }
          }
        }
        drained = outcome.kind == OutcomeKind.SENT || outcome.kind == OutcomeKind.DROPPED;
        drained &= queue.isEmpty() && current == null;
        if (drained) {
          journaled = -1;
        }
        notifyAll();
      }
      if (drained) {
        journal.drained();
      }
    }
  }

  private enum OutcomeKind { SENT, DROPPED, GAVE_UP, PAUSED }

  private record Outcome(OutcomeKind kind, String reason) {}

  /** Sends one call, retrying while allowed. */
  private Outcome send(Call call) {
    long delay = initialBackoff.toMillis();
    while (true) {
      try {
        runner.run(call);
        recovered();
        return new Outcome(OutcomeKind.SENT, null);
      } catch (Skipped e) {
        return new Outcome(OutcomeKind.DROPPED, e.getMessage());
      } catch (Exception e) {
        String reason = e.getClass().getSimpleName() + ": " + e.getMessage();
        if (runner.isCredentialFailure(e)) {
          log.warn("MLflow tracking at {} refused the credentials on {} ({}); nothing more is sent "
              + "and every tracking call is kept in the outbox: set MLFLOW_TRACKING_USERNAME and "
              + "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN), then run flops-aggregator "
              + "flush-tracking or the next training", runner.uri(), call.description(), reason);
          return new Outcome(OutcomeKind.PAUSED, reason);
        }
        if (!runner.isRetryable(e)) {
          log.warn("MLflow tracking at {} refused {}: {}; this call is dropped and reported at "
              + "the end, training goes on", runner.uri(), call.description(), reason);
          return new Outcome(OutcomeKind.DROPPED, "refused: " + reason);
        }
        failed(call, reason);
        List<Call> pending = null;
        synchronized (this) {
          if (journaled != submitted && !giveUp && !closed) {
            journaled = submitted;
            pending = new ArrayList<>(queue.size() + 1);
            pending.add(call);
            pending.addAll(queue);
          }
        }
        if (pending != null) {
          journal.save(pending);
        }
        synchronized (this) {
          long jittered = delay / 2 + ThreadLocalRandom.current().nextLong(delay / 2 + 1);
          long until = System.nanoTime() + jittered * 1_000_000;
          while (!giveUp && !closed && System.nanoTime() < until) {
            try {
              wait(Math.max(1, (until - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException interrupted) {
              return new Outcome(OutcomeKind.GAVE_UP, reason);
            }
          }
          if (giveUp || closed) {
            return new Outcome(OutcomeKind.GAVE_UP, reason);
          }
        }
        delay = Math.min(maxBackoff.toMillis(), delay * 2);
      }
    }
  }

  private synchronized void failed(Call call, String reason) {
    if (!warned) {
      warned = true;
      log.warn("MLflow tracking at {} is failing ({} on {}); training goes on, tracking calls are "
          + "retried with backoff and what cannot be delivered is kept in the outbox on disk",
          runner.uri(), reason, call.description());
    } else {
      log.debug("tracking call {} failed again: {}", call.description(), reason);
    }
    failing = true;
  }

  private synchronized void recovered() {
    if (failing) {
      failing = false;
      log.info("MLflow tracking at {} works again", runner.uri());
    }
  }
}
