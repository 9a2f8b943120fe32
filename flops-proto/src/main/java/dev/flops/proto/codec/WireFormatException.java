package dev.flops.proto.codec;

import io.grpc.StatusRuntimeException;
import java.util.Objects;

/**
 * A message that breaks the wire protocol: wrong version, malformed manifest, bad chunk, etc. It
 * carries the {@link WireError} code the refusal travels with; the message is for people.
 */
public final class WireFormatException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final WireError code;

  /**
   * Creates the exception.
   *
   * @param code what kind of breach this is; decides the status and what the peer does
   * @param message what was wrong, in words a person can act on
   */
  public WireFormatException(WireError code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  /**
   * Returns what kind of breach this is.
   *
   * @return the code, never null
   */
  public WireError code() {
    return code;
  }

  /**
   * Returns the refusal to send the peer: the code's status with this message as its
   * description, and the code in the trailers.
   *
   * @return a new exception each call
   */
  public StatusRuntimeException toStatusException() {
    return code.exception(getMessage());
  }
}
