package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** The refused-handshake log's rate limit, on a fake clock: a line per address per minute. */
class HandshakeRefusalsTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final List<String> lines = new ArrayList<>();
  private final HandshakeRefusals refusals = new HandshakeRefusals(now::get, lines::add);

  @Test
  void onePeerRetrying_oneLineAMinute_thenTheCountOfTheUnlogged() {
    SSLHandshakeException alert =
        new SSLHandshakeException("Received fatal alert: bad_certificate");
    for (int i = 0; i < 5; i++) {
      refusals.refused(new InetSocketAddress("10.0.0.7", 40000 + i), alert);
      now.addAndGet(1_000_000_000L); // one attempt a second
    }
    assertEquals(1, lines.size(), lines::toString);
    assertTrue(lines.get(0).startsWith("refused a TLS handshake from /10.0.0.7:40000: Received "
        + "fatal alert: bad_certificate; the learner's log says which side refused"),
        lines.get(0));

    now.addAndGet(HandshakeRefusals.INTERVAL_NANOS);
    refusals.refused(new InetSocketAddress("10.0.0.7", 40010), alert);
    assertEquals(2, lines.size());
    assertTrue(lines.get(1).endsWith("(4 more from 10.0.0.7 since the previous line, not "
        + "logged)"), lines.get(1));
  }

  @Test
  void anotherPeer_getsItsOwnLine_andAPlaintextPeerIsNamedAsSuch() {
    refusals.refused(new InetSocketAddress("10.0.0.7", 1), new SSLHandshakeException("x"));
    refusals.refused(new InetSocketAddress("10.0.0.8", 2),
        new io.grpc.netty.shaded.io.netty.handler.codec.DecoderException(
            new NotSslRecordException("not an SSL/TLS record")));
    assertEquals(2, lines.size(), lines::toString);
    assertTrue(lines.get(1).contains("10.0.0.8:2: the peer does not speak TLS"), lines.get(1));
  }
}
