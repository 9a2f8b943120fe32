package dev.flops.proto.codec;

import io.grpc.Status;

/** gRPC statuses as both sides log them and send them on in failure reasons. */
public final class Statuses {
  private Statuses() {}

  /**
   * Returns a status as one line: its code, its description and the message of its cause's root,
   * never a stack trace, and line breaks in either become spaces ({@code Status.toString()} prints the cause's whole stack trace, 20 lines
   * of Netty for a broken connection).
   *
   * @param status the status
   * @return e.g. {@code UNAVAILABLE: io exception (IOException: Connection reset by peer)}
   */
  public static String oneLine(Status status) {
    StringBuilder line = new StringBuilder(status.getCode().toString());
    if (status.getDescription() != null) {
      line.append(": ").append(status.getDescription());
    }
    Throwable root = status.getCause();
    if (root != null) {
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      line.append(" (").append(root.getClass().getSimpleName());
      if (root.getMessage() != null) {
        line.append(": ").append(root.getMessage());
      }
      line.append(')');
    }
    // Netty puts its channel pipeline on a line of its own in some descriptions.
    return line.toString().replaceAll("\\s*\\R\\s*", " ");
  }
}
