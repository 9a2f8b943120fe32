package dev.flops.aggregator.internal;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * A {@link LearnerPool} without a network, for testing the round loop alone: each learner is a
 * script that answers a task after a virtual delay (on a {@link FakeClock}) with an update, an
 * evaluation, a failure, or nothing at all. What the transport guarantees is kept: a phase's
 * updates reach its sink one at a time and never after the phase expired or closed.
 */
final class FakeLearnerPool implements LearnerPool {

  /** What a learner does with one task. */
  record Reply(Duration after, FitResult fit, EvaluateResult evaluation,
      LearnerFailure.Kind failure, String reason) {
    static Reply fit(Duration after, FitResult result) {
      return new Reply(after, result, null, null, null);
    }

    static Reply evaluation(Duration after, EvaluateResult result) {
      return new Reply(after, null, result, null, null);
    }

    static Reply failure(Duration after, LearnerFailure.Kind kind, String reason) {
      return new Reply(after, null, null, kind, reason);
    }

    /** Never answers: the task runs into the round timeout. */
    static Reply silence() {
      return null;
    }
  }

  /** A learner's behaviour: the reply to each task. */
  @FunctionalInterface
  interface Script {
    Reply reply(int round, PhaseKind kind, Parameters global, Config config);
  }

  /** One dispatched task, for assertions. */
  record Sent(int round, PhaseKind kind, String learnerId, Config config, String parametersId) {}

  private final FakeClock clock;
  private final Map<String, Script> scripts = new LinkedHashMap<>();
  private final List<String> connected = new ArrayList<>();
  private final Map<String, String> identities = new HashMap<>();
  final List<Sent> sent = new ArrayList<>();
  /** The parameters whose downloads the loop retired, in order, for assertions. */
  final List<Parameters> retired = new ArrayList<>();
  int updatesFolded;
  int lateUpdatesDropped;

  FakeLearnerPool(FakeClock clock) {
    this.clock = clock;
  }

  /** Adds a learner that is connected from the start. */
  FakeLearnerPool learner(String id, Script script) {
    scripts.put(id, script);
    connected.add(id);
    return this;
  }

  /** Adds a learner that connects after {@code delay} of virtual time. */
  FakeLearnerPool learnerJoiningAfter(Duration delay, String id, Script script) {
    scripts.put(id, script);
    clock.schedule(delay, () -> connected.add(id));
    return this;
  }

  @Override
  public List<String> connected() {
    return List.copyOf(connected);
  }

  @Override
  public List<String> awaitLearners(int count, Duration timeout, Duration progressInterval)
      throws TimeoutException {
    if (!clock.awaitCondition(() -> connected.size() >= count, timeout.toNanos())) {
      throw new TimeoutException("only " + connected.size() + " of the " + count
          + " learners needed connected within " + timeout);
    }
    return connected();
  }

  @Override
  public String learnerName(String learnerId) {
    return scripts.containsKey(learnerId) ? "fake " + learnerId : null;
  }

  @Override
  public Map<String, String> identities() {
    return Map.copyOf(identities);
  }

  @Override
  public void restoreIdentities(Map<String, String> saved) {
    identities.putAll(saved);
  }

  @Override
  public void prepare(Parameters global, RoundRanking ranking) {}

  @Override
  public Phase dispatch(int round, PhaseKind kind, Parameters global, String parametersId,
      List<Assignment> assignments, UpdateSink sink) {
    List<CompletableFuture<TaskOutcome>> outcomes = new ArrayList<>();
    boolean[] open = {true};
    for (Assignment assignment : assignments) {
      String id = assignment.learnerId();
      sent.add(new Sent(round, kind, id, assignment.config(), parametersId));
      CompletableFuture<TaskOutcome> outcome = new CompletableFuture<>();
      outcomes.add(outcome);
      if (!connected.contains(id)) {
        outcome.complete(TaskOutcome.failed(id, LearnerFailure.Kind.DISCONNECTED,
            "learner " + id + " disconnected before it got the task"));
        continue;
      }
      Reply reply = scripts.get(id).reply(round, kind, global, assignment.config());
      if (reply == null) {
        continue;
      }
      clock.schedule(reply.after(), () -> {
        if (!open[0] || outcome.isDone()) {
          lateUpdatesDropped++;
          return;
        }
        if (reply.failure() != null) {
          outcome.complete(TaskOutcome.failed(id, reply.failure(), reply.reason()));
        } else if (kind == PhaseKind.FIT) {
          try {
            sink.accept(id, reply.fit());
            updatesFolded++;
            outcome.complete(TaskOutcome.succeeded(id, null));
          } catch (RuntimeException e) {
            outcome.complete(TaskOutcome.failed(id, LearnerFailure.Kind.OTHER,
                "could not fold the update: " + e.getMessage()));
          }
        } else {
          outcome.complete(TaskOutcome.succeeded(id, reply.evaluation()));
        }
      });
    }
    return new Phase() {
      @Override
      public List<CompletableFuture<TaskOutcome>> outcomes() {
        return outcomes;
      }

      @Override
      public void expire(String reason) {
        open[0] = false;
        for (int i = 0; i < outcomes.size(); i++) {
          outcomes.get(i).complete(TaskOutcome.failed(assignments.get(i).learnerId(),
              LearnerFailure.Kind.TIMED_OUT, reason));
        }
      }

      @Override
      public String describeProgress(Duration elapsed) {
        return "round " + round + " " + kind + ": " + elapsed;
      }

      @Override
      public void close() {
        open[0] = false;
      }
    };
  }

  @Override
  public void retireDownloads(Parameters parameters) {
    retired.add(parameters);
  }

  @Override
  public Traffic traffic() {
    return new Traffic(0, 0);
  }
}
