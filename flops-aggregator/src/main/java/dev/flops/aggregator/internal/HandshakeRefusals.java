package dev.flops.aggregator.internal;

import io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs TLS handshakes the aggregator refused or that peers broke off, with the peer's address:
 * one line per address per minute, the next line of that address saying how many went unlogged
 * in between, so that a learner retrying with a bad certificate, or a scanner, cannot flood the
 * log. Without it a refused learner is invisible on the aggregator (gRPC logs these at FINE).
 */
public final class HandshakeRefusals {
  private static final Logger log = LoggerFactory.getLogger(HandshakeRefusals.class);
  static final long INTERVAL_NANOS = 60_000_000_000L;
  /** Addresses remembered at most; a flood from more forgets the quiet ones first. */
  private static final int MAX_ADDRESSES = 4096;

  private final LongSupplier nanoTime;
  private final Consumer<String> out;
  /** Per address: when it was last logged and how many refusals went unlogged since. */
  private final Map<String, long[]> byAddress = new HashMap<>();

  /** Creates the log on the system clock. */
  public HandshakeRefusals() {
    this(System::nanoTime, log::warn);
  }

  /**
   * Creates the log on a given clock and output, for tests.
   *
   * @param nanoTime the clock, in nanoseconds
   * @param out receives each line
   */
  HandshakeRefusals(LongSupplier nanoTime, Consumer<String> out) {
    this.nanoTime = nanoTime;
    this.out = out;
  }

  /**
   * Records a refused handshake.
   *
   * @param peer the peer's address (IP and port)
   * @param cause why the handshake failed, as the TLS engine reported it
   */
  public void refused(SocketAddress peer, Throwable cause) {
    String address = peer instanceof InetSocketAddress inet && inet.getAddress() != null
        ? inet.getAddress().getHostAddress() : String.valueOf(peer);
    long now = nanoTime.getAsLong();
    long unlogged;
    synchronized (byAddress) {
      long[] entry = byAddress.get(address);
      if (entry != null && now - entry[0] < INTERVAL_NANOS) {
        entry[1]++;
        return;
      }
      unlogged = entry == null ? 0 : entry[1];
      if (entry == null && byAddress.size() >= MAX_ADDRESSES) {
        forgetQuiet(now);
      }
      byAddress.put(address, new long[] {now, 0});
    }
    out.accept("refused a TLS handshake from " + peer + ": " + reason(cause)
        + (unlogged == 0 ? "" : " (" + unlogged + " more from " + address
            + " since the previous line, not logged)"));
  }

  private void forgetQuiet(long now) {
    for (Iterator<long[]> it = byAddress.values().iterator(); it.hasNext(); ) {
      if (now - it.next()[0] >= INTERVAL_NANOS) {
        it.remove();
      }
    }
    if (byAddress.size() >= MAX_ADDRESSES) {
      byAddress.clear();
    }
  }

  /** What went wrong, from the innermost TLS failure: the engine's own words. */
  static String reason(Throwable cause) {
    Throwable ssl = null;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof SSLException) {
        ssl = t;
      }
      if (t instanceof NotSslRecordException) {
        return "the peer does not speak TLS (a learner without trustedCertificates / "
            + "--trust-file?)";
      }
    }
    Throwable shown = ssl != null ? ssl : cause;
    // The engine's words do not say which side refused (an alert the learner sent, or a learner
    // certificate this side refused); the learner's own message does, with the fix.
    return shown.getMessage() + "; the learner's log says which side refused and what to change";
  }
}
