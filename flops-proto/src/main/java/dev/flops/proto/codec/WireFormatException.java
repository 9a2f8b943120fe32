package dev.flops.proto.codec;

/** A message that breaks the wire protocol: wrong version, malformed manifest, bad chunk, etc. */
public final class WireFormatException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was wrong, in words a person can act on
   */
  public WireFormatException(String message) {
    super(message);
  }
}
