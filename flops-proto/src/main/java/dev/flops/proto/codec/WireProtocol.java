package dev.flops.proto.codec;

import dev.flops.proto.v1.Envelope;

/** Constants of the wire protocol that both sides must agree on. */
public final class WireProtocol {

  /** The protocol version this build speaks; carried by every message. */
  public static final int VERSION = 1;

  /** The largest chunk of tensor data one message may carry: 4 MiB. */
  public static final int MAX_CHUNK_BYTES = 4 * 1024 * 1024;

  /**
   * The chunk size senders use: 1 MiB. Smaller chunks than the protocol allows keep each gRPC
   * message inside netty's pooled buffers and bound what one stream holds in transit; 1 MiB still
   * makes the per-message overhead negligible (a few dozen bytes per MiB).
   */
  public static final int DEFAULT_CHUNK_BYTES = 1024 * 1024;

  /**
   * The gRPC inbound message limit both sides configure: a full chunk plus room for the message
   * around it.
   */
  public static final int MAX_MESSAGE_BYTES = MAX_CHUNK_BYTES + 64 * 1024;

  private WireProtocol() {}

  /**
   * Returns the envelope of a message of this protocol version.
   *
   * @param round the round the message belongs to, or 0 outside any round
   * @return the envelope
   */
  public static Envelope envelope(long round) {
    return Envelope.newBuilder().setProtocolVersion(VERSION).setRound(round).build();
  }

  /**
   * Checks a message's protocol version.
   *
   * @param envelope the message's envelope
   * @throws WireFormatException naming both versions if they differ
   */
  public static void checkVersion(Envelope envelope) {
    if (envelope.getProtocolVersion() != VERSION) {
      throw new WireFormatException(WireError.PROTOCOL_VERSION, String.format(
          "protocol version mismatch: the peer speaks flops protocol v%d but this side speaks v%d; "
              + "run the same flops release on the aggregator and the learners",
          envelope.getProtocolVersion(), VERSION));
    }
  }
}
