package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StrategyStateTest {

  @Test
  void of_copiesTheEntries_andHasNoTensors() {
    Map<String, String> entries = new HashMap<>(Map.of("seed", "42"));
    StrategyState state = StrategyState.of(entries);
    entries.put("seed", "7");

    assertEquals(Map.of("seed", "42"), state.values());
    assertEquals(List.of(), state.tensors().names());
    assertTrue(StrategyState.empty().isEmpty());
  }

  @Test
  void withTensors_keepsTheEntries() {
    Parameters moments = Parameters.of(Tensor.ofFloats("m", 1f, 2f));
    StrategyState state = StrategyState.of(Map.of("steps", "3")).withTensors(moments);

    assertEquals(Map.of("steps", "3"), state.values());
    assertEquals(moments, state.tensors());
    assertEquals(new StrategyState(Map.of("steps", "3"), moments), state);
  }

  @Test
  void nullOrBlankEntries_refusedNamingThem() {
    Map<String, String> nullValue = new HashMap<>();
    nullValue.put("momentum_beta", null);
    NullPointerException n =
        assertThrows(NullPointerException.class, () -> StrategyState.of(nullValue));
    assertTrue(n.getMessage().contains("'momentum_beta' has a null value"), n.getMessage());

    IllegalArgumentException blank =
        assertThrows(IllegalArgumentException.class, () -> StrategyState.of(Map.of(" ", "1")));
    assertTrue(blank.getMessage().contains("blank"), blank.getMessage());
    assertThrows(NullPointerException.class, () -> StrategyState.empty().withTensors(null));
  }
}
