package dev.flops.aggregator.internal;

import com.google.protobuf.ByteString;
import dev.flops.proto.codec.WireError;
import io.grpc.StatusRuntimeException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * The proof a download or upload gives that it acts for the control stream its task was sent to
 * ({@code Task.capability} in the protocol). Task and learner ids are sequential, so anyone can
 * guess them; a capability is 256 random bits that only the task's own control stream ever
 * receives. This is what binds a transfer to its session in every authentication mode, including
 * plaintext without tokens and one token shared by all learners, where the call itself says
 * nothing about who sent it.
 */
final class TaskCapability {
  /** 256 bits: far beyond guessing, even by a learner that makes millions of calls. */
  static final int BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private TaskCapability() {}

  /** Draws a new capability. */
  static ByteString draw() {
    byte[] bytes = new byte[BYTES];
    RANDOM.nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }

  /**
   * Checks that a download or upload comes from the control stream {@code task} was sent to: it
   * presents the task's capability, which only that stream received, and the same token and
   * certificate as that stream ({@link Caller}). A refusal leaves the task untouched, so that its
   * owner's own transfer still counts. Task ids are labels that anyone can guess: a stranger told
   * that one is pending (PERMISSION_DENIED) rather than ended (NOT_FOUND) learns nothing that
   * authorises anything, and an honest late learner gets the true reason.
   *
   * @param task the task the call names
   * @param learnerId the learner id the call names (a label; it must still be the task's)
   * @param presented the capability the call presents
   * @throws StatusRuntimeException PERMISSION_DENIED saying what does not match
   */
  static void checkTransfer(PendingTask task, String learnerId, ByteString presented) {
    LearnerSession owner = task.session;
    if (!matches(task.capability, presented) || owner == null) {
      throw WireError.CAPABILITY.exception(String.format(
              "task '%s' belongs to another learner: this call does not carry the capability "
                  + "the task came with on its learner's control stream; a learner can download "
                  + "and upload only for the tasks it was sent%s", task.taskId, presented.isEmpty()
                  ? " (this call carries no capability at all: a learner built before tasks "
                      + "carried one must be updated)" : ""));
    }
    if (!owner.caller.equals(Caller.current())) {
      throw WireError.CAPABILITY.exception(String.format(
              "task '%s' belongs to another learner: this call presents another learner token "
                  + "or certificate than the control stream the task was sent to", task.taskId));
    }
    if (!task.learnerId.equals(learnerId)) {
      throw WireError.CAPABILITY.exception(String.format(
              "task '%s' belongs to another learner: it was given to %s but the call names "
                  + "learner '%s'", task.taskId, task.learnerId, learnerId));
    }
  }

  /**
   * Returns whether {@code presented} is {@code expected}, in time that does not depend on where
   * they differ, so that a caller cannot find a capability byte by byte.
   */
  static boolean matches(ByteString expected, ByteString presented) {
    return MessageDigest.isEqual(expected.toByteArray(), presented.toByteArray());
  }
}
