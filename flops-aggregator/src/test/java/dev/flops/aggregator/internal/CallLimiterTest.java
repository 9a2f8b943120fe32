package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The call limiter's accounting with the aggregator's defaults (256 per address, 4096 in all):
 * the per-address bound counts learners (control streams), each entitled to one transfer. The
 * same 200 learners train end to end in flops-aggregator's RefusedTransferTest.
 */
class CallLimiterTest {
  private static final boolean CONTROL = true;
  private static final boolean TRANSFER = false;

  @Test
  void twoHundredLearnersOnOneAddress_eachWithATransfer_allAdmitted() throws Exception {
    InetAddress host = InetAddress.getByName("10.0.0.7");
    try (CallLimiter limiter = new CallLimiter(4096, 256, Duration.ofSeconds(20))) {
      for (int i = 0; i < 200; i++) {
        assertNull(limiter.acquire(host, CONTROL), "control stream " + i);
      }
      for (int i = 0; i < 200; i++) {
        assertNull(limiter.acquire(host, TRANSFER), "transfer " + i);
      }
      assertEquals(400, limiter.openCalls());
      // A 201st transfer has no learner of its own: refused (the learner retries).
      assertEquals("10.0.0.7 already has 200 transfers open for its 200 control streams, the most "
          + "one address may hold (maxCallsPerAddress; a learner holds one transfer at a time); "
          + "retry once a transfer has ended", limiter.acquire(host, TRANSFER));
      limiter.release(host, TRANSFER);
      assertNull(limiter.acquire(host, TRANSFER), "a transfer that ended makes room");
    }
  }

  @Test
  void controlStreamsBeyondTheBound_refused_transfersWithoutLearnersStillWithinIt()
      throws Exception {
    InetAddress host = InetAddress.getByName("10.0.0.8");
    try (CallLimiter limiter = new CallLimiter(4096, 8, Duration.ofSeconds(20))) {
      // Transfers from an address without learners are admitted within the bound, as before.
      for (int i = 0; i < 8; i++) {
        assertNull(limiter.acquire(host, TRANSFER), "transfer " + i);
      }
      assertEquals("10.0.0.8 already has 8 transfers open for its 0 control streams, the most "
          + "one address may hold (maxCallsPerAddress; a learner holds one transfer at a time); "
          + "retry once a transfer has ended", limiter.acquire(host, TRANSFER));
      for (int i = 0; i < 8; i++) {
        assertNull(limiter.acquire(host, CONTROL), "control stream " + i);
      }
      assertEquals("10.0.0.8 already has 8 calls open, the most one address may hold "
          + "(maxCallsPerAddress); it bounds the learners of one address (their control "
          + "streams; each may hold one transfer besides): close some or raise the limit",
          limiter.acquire(host, CONTROL));
      // Another address is not affected; the total bound still is.
      assertNull(limiter.acquire(InetAddress.getByName("10.0.0.9"), CONTROL));
      assertEquals(17, limiter.openCalls());
    }
  }

  @Test
  void totalBound_countsEveryCall() throws Exception {
    try (CallLimiter limiter = new CallLimiter(3, 256, Duration.ofSeconds(20))) {
      InetAddress host = InetAddress.getByName("10.0.0.7");
      assertNull(limiter.acquire(host, CONTROL));
      assertNull(limiter.acquire(host, CONTROL));
      assertNull(limiter.acquire(host, TRANSFER));
      assertEquals("the aggregator already has 3 calls open, the most it accepts (maxCalls); "
          + "retry later or raise the limit", limiter.acquire(host, TRANSFER));
    }
  }
}
