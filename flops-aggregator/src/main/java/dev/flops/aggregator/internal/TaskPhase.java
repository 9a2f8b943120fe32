package dev.flops.aggregator.internal;

import dev.flops.proto.v1.TaskKind;
import java.time.Duration;
import java.util.Locale;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A phase as the gRPC transport runs it: the {@link PendingTask}s it sent. Its progress line reads
 * the tasks' own state and the download pool, each without a lock, so a line may be a moment out
 * of date but never blocks a transfer.
 */
final class TaskPhase implements Phase {
  private final FederationService service;
  private final List<PendingTask> tasks;

  TaskPhase(FederationService service, List<PendingTask> tasks) {
    this.service = service;
    this.tasks = List.copyOf(tasks);
  }

  @Override
  public List<CompletableFuture<TaskOutcome>> outcomes() {
    return tasks.stream().map(PendingTask::outcome).toList();
  }

  @Override
  public void expire(String reason) {
    service.expire(tasks, reason);
  }

  @Override
  public String describeProgress(Duration elapsed) {
    return describe(tasks, service.downloadSlots().held(), elapsed);
  }

  @Override
  public void close() {
    service.endRound(tasks);
  }

  /**
   * Describes a running phase: results in, failed, uploads under way, downloads streaming and the
   * learners still working on their task.
   */
  static String describe(List<PendingTask> tasks, int downloadsStreaming, Duration elapsed) {
    int in = 0;
    int failed = 0;
    int uploading = 0;
    for (PendingTask task : tasks) {
      if (task.isDone()) {
        if (task.failureReason() == null) {
          in++;
        } else {
          failed++;
        }
      } else if (task.uploadStarted()) {
        uploading++;
      }
    }
    int open = tasks.size() - in - failed;
    // Downloads count across the aggregator; within a phase they belong to its open tasks.
    int downloading = Math.min(downloadsStreaming, open - uploading);
    int working = open - uploading - downloading;
    boolean fit = !tasks.isEmpty() && tasks.get(0).kind == TaskKind.FIT;
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d %s: %d of %d %s in",
        tasks.isEmpty() ? 0 : tasks.get(0).round, fit ? "fit" : "evaluate", in, tasks.size(),
        fit ? "updates" : "results"));
    if (failed > 0) {
      line.append(", ").append(failed).append(" failed");
    }
    if (uploading > 0) {
      line.append(", ").append(uploading).append(uploading == 1 ? " upload" : " uploads")
          .append(" under way");
    }
    if (downloading > 0) {
      line.append(", ").append(downloading).append(downloading == 1 ? " download" : " downloads")
          .append(" streaming");
    }
    if (working > 0) {
      line.append(", ").append(working).append(working == 1 ? " learner" : " learners")
          .append(fit ? " still training" : " still evaluating");
    }
    return line.append(String.format(Locale.ROOT, "; %d s", elapsed.toSeconds())).toString();
  }
}
