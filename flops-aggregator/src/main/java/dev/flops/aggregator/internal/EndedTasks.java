package dev.flops.aggregator.internal;

import com.google.protobuf.ByteString;
import dev.flops.api.LearnerFailure;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tasks that ended recently and were forgotten at the end of their round, so that a learner's
 * report about one of them can be told apart from a report about a task that never existed.
 *
 * <p>A learner's report routinely crosses the end of its task: the learner sends a TaskFailure
 * after the aggregator refused its upload (the refusal already failed the task, and a round of
 * one learner then ends at once), or an evaluation arrives just after the round timed out. Such
 * traffic is expected and must not read as a protocol violation or blame a time-out that never
 * happened. Only the small facts needed to say how the task ended are kept, never its parameters,
 * and only the most recent {@link #CAPACITY} tasks: memory stays bounded however long the
 * federation runs. Thread-safe.
 */
final class EndedTasks {
  /** Enough for several rounds of thousands of learners; a report older than that is stale. */
  static final int CAPACITY = 8192;

  /**
   * How one task ended.
   *
   * @param session the control stream the task was sent over, or null if there was none
   * @param description how it ended, e.g. "it failed: ..." (see {@link PendingTask#describeEnd})
   * @param failureKind the kind of failure, or null if the task succeeded
   * @param capability what the task's transfers presented ({@link TaskCapability}): only they
   *     may learn how it ended
   */
  record Ended(LearnerSession session, String description, LearnerFailure.Kind failureKind,
      ByteString capability) {

    /** Whether the task ended by timing out: a result arriving now arrived late. */
    boolean timedOut() {
      return failureKind == LearnerFailure.Kind.TIMED_OUT;
    }
  }

  private final Map<String, Ended> ended = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Ended> eldest) {
      return size() > CAPACITY;
    }
  };

  /** Remembers how {@code task} ended; a task still pending is not remembered. */
  synchronized void remember(PendingTask task) {
    TaskOutcome outcome = task.outcome().getNow(null);
    if (outcome != null) {
      ended.put(task.taskId, of(task, outcome));
    }
  }

  /**
   * Returns how the task with this id ended if it was {@code session}'s, else null: a task that
   * another connection had, or that was never given, is not one this session may hear about.
   */
  synchronized Ended find(String taskId, LearnerSession session) {
    Ended found = ended.get(taskId);
    return found != null && found.session() == session ? found : null;
  }

  /**
   * Returns how the task with this id ended if {@code presented} is its capability, else null:
   * a download or upload that cannot prove it acted for the task learns nothing about it.
   */
  synchronized Ended findForTransfer(String taskId, ByteString presented) {
    Ended found = ended.get(taskId);
    return found != null && TaskCapability.matches(found.capability(), presented) ? found : null;
  }

  /** How a task that is done ended, without keeping the task (and its parameters) alive. */
  static Ended of(PendingTask task, TaskOutcome outcome) {
    return new Ended(task.session, task.describeEnd(), outcome.kind(), task.capability);
  }
}
