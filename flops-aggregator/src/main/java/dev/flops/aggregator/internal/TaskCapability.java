package dev.flops.aggregator.internal;

import com.google.protobuf.ByteString;
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
   * Returns whether {@code presented} is {@code expected}, in time that does not depend on where
   * they differ, so that a caller cannot find a capability byte by byte.
   */
  static boolean matches(ByteString expected, ByteString presented) {
    return MessageDigest.isEqual(expected.toByteArray(), presented.toByteArray());
  }
}
