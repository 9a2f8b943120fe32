package dev.flops.aggregator.internal;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Parameters;
import dev.flops.proto.codec.EncodedParameters;
import dev.flops.proto.v1.TaskKind;
import java.util.concurrent.CompletableFuture;

/** One task handed to one learner in one round, until it succeeds, fails or times out. */
final class PendingTask {
  final String taskId;
  final String learnerId;
  final long round;
  final TaskKind kind;
  /** The global parameters the learner downloads, encoded once per round and shared. */
  final EncodedParameters download;
  /** The structure an uploaded update must have. */
  final Parameters global;
  private final CompletableFuture<TaskOutcome> outcome = new CompletableFuture<>();

  PendingTask(String taskId, String learnerId, long round, TaskKind kind,
      EncodedParameters download, Parameters global) {
    this.taskId = taskId;
    this.learnerId = learnerId;
    this.round = round;
    this.kind = kind;
    this.download = download;
    this.global = global;
  }

  CompletableFuture<TaskOutcome> outcome() {
    return outcome;
  }

  boolean isDone() {
    return outcome.isDone();
  }

  /** Returns the failure reason of a task that already ended in failure, else null. */
  String failureReason() {
    TaskOutcome done = outcome.getNow(null);
    return done == null ? null : done.failure();
  }

  boolean succeed(EvaluateResult evaluation) {
    return outcome.complete(TaskOutcome.succeeded(learnerId, evaluation));
  }

  boolean fail(String reason) {
    return outcome.complete(TaskOutcome.failed(learnerId, reason));
  }

  @Override
  public String toString() {
    return kind + " task " + taskId + " of " + learnerId + " in round " + round;
  }
}
