package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {

  @Test
  void durationsReadAsPeopleWriteThem_notIso() {
    assertEquals("0 ms", Durations.forPeople(Duration.ZERO));
    assertEquals("less than 1 ms", Durations.forPeople(Duration.ofNanos(300)));
    assertEquals("250 ms", Durations.forPeople(Duration.ofMillis(250)));
    assertEquals("1 s", Durations.forPeople(Duration.ofSeconds(1)));
    assertEquals("1.5 s", Durations.forPeople(Duration.ofMillis(1500)));
    assertEquals("15 s", Durations.forPeople(Duration.ofSeconds(15)));
    assertEquals("1 min", Durations.forPeople(Duration.ofMillis(59_960)));
    assertEquals("10 min", Durations.forPeople(Duration.ofMinutes(10)));
    assertEquals("2 min 30 s", Durations.forPeople(Duration.ofSeconds(150)));
    assertEquals("1 h 5 min", Durations.forPeople(Duration.ofMinutes(65)));
    assertEquals("48 h", Durations.forPeople(Duration.ofDays(2)));
    assertEquals("-3 s", Durations.forPeople(Duration.ofSeconds(-3)));
  }
}
