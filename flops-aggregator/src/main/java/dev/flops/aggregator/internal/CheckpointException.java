package dev.flops.aggregator.internal;

import java.io.IOException;

/** A checkpoint file that cannot be used: not a checkpoint, another version, corrupt, or unfit. */
public final class CheckpointException extends IOException {
  private static final long serialVersionUID = 1L;

  public CheckpointException(String message) {
    super(message);
  }
}
