package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AggregatorAddressTest {

  @Test
  void parsesHostNamesIpv4AndBracketedIpv6() {
    assertEquals(new AggregatorAddress("agg.example.org", 50051),
        AggregatorAddress.parse("agg.example.org:50051"));
    assertEquals(new AggregatorAddress("10.0.0.5", 1), AggregatorAddress.parse("10.0.0.5:1"));
    AggregatorAddress v6 = AggregatorAddress.parse("[::1]:50051");
    assertEquals("::1", v6.host());
    assertEquals("[::1]:50051", v6.toString());
  }

  @Test
  void malformedAddresses_namedInTheError() {
    for (String bad : new String[] {"localhost", ":50051", "host:", "host:port", "host:0",
        "host:70000"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> AggregatorAddress.parse(bad), bad);
      assertTrue(e.getMessage().contains(bad) || e.getMessage().contains("port"),
          bad + ": " + e.getMessage());
    }
  }
}
