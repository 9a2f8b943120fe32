package dev.flops.benchmarks.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HarnessLineTest {

  @Test
  void formatThenParse_givesTheEventAndFieldsBack() {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("round", 2);
    fields.put("seconds", "0.4321");
    String line = HarnessLine.format("round", fields);

    assertEquals("HARNESS round round=2 seconds=0.4321", line);
    HarnessLine parsed = HarnessLine.parse(line).orElseThrow();
    assertEquals("round", parsed.event());
    assertEquals(2, parsed.getInt("round"));
    assertEquals(0.4321, parsed.getDouble("seconds"), 0);
  }

  @Test
  void logLines_areNotHarnessLines() {
    assertEquals(Optional.empty(), HarnessLine.parse("[main] INFO RoundLoop - round 1/3"));
  }

  @Test
  void aMissingField_isNamed() {
    HarnessLine line = HarnessLine.parse("HARNESS done rounds=3").orElseThrow();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> line.get("peak_rss_mb"));
    assertTrue(e.getMessage().contains("lacks peak_rss_mb"), e.getMessage());
  }

  @Test
  void valuesWithSpaces_areRefused() {
    assertThrows(IllegalArgumentException.class,
        () -> HarnessLine.format("done", Map.of("reason", "two words")));
  }
}
