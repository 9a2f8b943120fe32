package dev.flops.aggregator.internal;

import com.google.protobuf.ByteString;
import dev.flops.api.EvaluateResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.proto.v1.TaskKind;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/** One task handed to one learner in one round, until it succeeds, fails or times out. */
final class PendingTask {
  final String taskId;
  final String learnerId;
  final long round;
  final TaskKind kind;
  /** The global parameters the learner downloads, encoded once per round and shared. */
  final DownloadSource download;
  /** The structure an uploaded update must have. */
  final Parameters global;
  /** What a download or upload must present to act for this task (see {@link TaskCapability}). */
  final ByteString capability = TaskCapability.draw();
  private final CompletableFuture<TaskOutcome> outcome = new CompletableFuture<>();
  private final AtomicBoolean uploadClaimed = new AtomicBoolean();
  /**
   * The connection the task was sent over, or null if the learner was not connected. When that
   * connection ends (broken, closed, or replaced by the learner's reconnection) the task fails.
   */
  volatile LearnerSession session;

  PendingTask(String taskId, String learnerId, long round, TaskKind kind,
      DownloadSource download, Parameters global) {
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

  /** Says how a task that is done ended, for messages: "its result was accepted" or why it failed. */
  String describeEnd() {
    String failure = failureReason();
    return failure == null ? "its result was accepted" : "it failed: " + failure;
  }

  /**
   * Claims the task's only upload. A fit task takes one upload: a second one, even while the first
   * is still streaming, is refused without touching the first.
   *
   * @return true for the first caller only
   */
  boolean claimUpload() {
    return uploadClaimed.compareAndSet(false, true);
  }

  /** Tells whether an upload has claimed this task: the learner finished its fit and is sending. */
  boolean uploadStarted() {
    return uploadClaimed.get();
  }

  boolean succeed(EvaluateResult evaluation) {
    return outcome.complete(TaskOutcome.succeeded(learnerId, evaluation));
  }

  boolean fail(LearnerFailure.Kind kind, String reason) {
    return outcome.complete(TaskOutcome.failed(learnerId, kind, reason));
  }

  @Override
  public String toString() {
    return kind + " task " + taskId + " of " + learnerId + " in round " + round;
  }
}
