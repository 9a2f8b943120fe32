package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {

  @Test
  void integralValues_normalisedToLong() {
    Config config = Config.of("i", 3, "s", (short) 4, "b", (byte) 5, "l", 6L);

    assertEquals(Long.valueOf(3), config.values().get("i"));
    assertEquals(Long.valueOf(4), config.values().get("s"));
    assertEquals(Long.valueOf(5), config.values().get("b"));
    assertEquals(Long.valueOf(6), config.values().get("l"));
  }

  @Test
  void floatValues_normalisedToDouble() {
    Config config = Config.of("f", 0.5f, "d", 0.25);

    assertEquals(Double.valueOf(0.5), config.values().get("f"));
    assertEquals(Double.valueOf(0.25), config.values().get("d"));
  }

  @Test
  void equalContents_givenAsIntOrLong_areEqualConfigs() {
    assertEquals(Config.of("local_epochs", 2), Config.of("local_epochs", 2L));
  }

  @Test
  void typedGetters_returnStoredValues() {
    Config config = Config.of(
        "local_epochs", 2, "learning_rate", 1e-3, "shuffle", true, "optimizer", "adam",
        "big", 1L << 40);

    assertEquals(2, config.getInt("local_epochs", 1));
    assertEquals(2L, config.getLong("local_epochs", 1));
    assertEquals(1e-3, config.getDouble("learning_rate", 0.1));
    assertTrue(config.getBoolean("shuffle", false));
    assertEquals("adam", config.getString("optimizer", "sgd"));
    assertEquals(1L << 40, config.getLong("big", 0));
  }

  @Test
  void typedGetters_missingKey_returnDefaults() {
    Config config = Config.empty();

    assertEquals(7, config.getInt("local_epochs", 7));
    assertEquals(8L, config.getLong("x", 8L));
    assertEquals(0.5, config.getDouble("x", 0.5));
    assertTrue(config.getBoolean("x", true));
    assertEquals("dflt", config.getString("x", "dflt"));
    assertFalse(config.contains("x"));
  }

  @Test
  void getDouble_widensIntegers() {
    assertEquals(3.0, Config.of("n", 3).getDouble("n", 0));
  }

  @Test
  void getLong_onDouble_throwsNamingKeyAndValue() {
    Config config = Config.of("local_epochs", 1.5);

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> config.getLong("local_epochs", 1));

    assertTrue(e.getMessage().contains("'local_epochs'"), e.getMessage());
    assertTrue(e.getMessage().contains("1.5"), e.getMessage());
    assertTrue(e.getMessage().contains("Double"), e.getMessage());
  }

  @Test
  void wrongTypes_throwNamingKeyAndValue() {
    Config config = Config.of("name", "adam", "n", 3);

    IllegalArgumentException notNumber = assertThrows(IllegalArgumentException.class,
        () -> config.getDouble("name", 0));
    IllegalArgumentException notBoolean = assertThrows(IllegalArgumentException.class,
        () -> config.getBoolean("n", false));
    IllegalArgumentException notString = assertThrows(IllegalArgumentException.class,
        () -> config.getString("n", ""));
    IllegalArgumentException notInt = assertThrows(IllegalArgumentException.class,
        () -> config.getInt("name", 0));

    for (IllegalArgumentException e : List.of(notNumber, notInt)) {
      assertTrue(e.getMessage().contains("'name'"), e.getMessage());
      assertTrue(e.getMessage().contains("adam"), e.getMessage());
    }
    for (IllegalArgumentException e : List.of(notBoolean, notString)) {
      assertTrue(e.getMessage().contains("'n'"), e.getMessage());
      assertTrue(e.getMessage().contains("3"), e.getMessage());
    }
  }

  @Test
  void getInt_valueBeyondIntRange_throwsNamingKeyAndValue() {
    Config config = Config.of("steps", 1L << 40);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> config.getInt("steps", 0));

    assertTrue(e.getMessage().contains("'steps'"), e.getMessage());
    assertTrue(e.getMessage().contains(Long.toString(1L << 40)), e.getMessage());
  }

  @Test
  void nonScalarValue_rejectedNamingKeyAndType() {
    IllegalArgumentException list = assertThrows(IllegalArgumentException.class,
        () -> Config.of("layers", List.of(1, 2)));
    IllegalArgumentException decimal = assertThrows(IllegalArgumentException.class,
        () -> Config.of("lr", new BigDecimal("0.1")));

    assertTrue(list.getMessage().contains("'layers'"), list.getMessage());
    assertTrue(decimal.getMessage().contains("'lr'"), decimal.getMessage());
    assertTrue(decimal.getMessage().contains("java.math.BigDecimal"), decimal.getMessage());
  }

  @Test
  void with_nonScalarValue_rejected() {
    assertThrows(IllegalArgumentException.class, () -> Config.empty().with("x", new Object()));
  }

  @Test
  void nullValue_rejected() {
    Map<String, Object> map = new HashMap<>();
    map.put("x", null);

    NullPointerException e = assertThrows(NullPointerException.class, () -> new Config(map));

    assertTrue(e.getMessage().contains("'x'"), e.getMessage());
  }

  @Test
  void blankKey_rejected() {
    assertThrows(IllegalArgumentException.class, () -> Config.of(" ", 1));
  }

  @Test
  void of_oddArgumentCount_rejectedWithCount() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Config.of("a", 1, "b"));

    assertTrue(e.getMessage().contains("3 arguments"), e.getMessage());
  }

  @Test
  void of_nonStringKey_rejectedNamingPosition() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Config.of("a", 1, 2, 3));

    assertTrue(e.getMessage().contains("argument 2"), e.getMessage());
  }

  @Test
  void with_addsOrReplacesWithoutChangingTheOriginal() {
    Config original = Config.of("a", 1);

    Config changed = original.with("a", 2).with("b", "x");

    assertEquals(1, original.getInt("a", 0));
    assertFalse(original.contains("b"));
    assertEquals(2, changed.getInt("a", 0));
    assertEquals("x", changed.getString("b", ""));
  }

  @Test
  void values_areSortedByNameAndUnmodifiable() {
    Config config = Config.of("zeta", 1, "alpha", 2, "mid", 3);

    assertEquals(List.of("alpha", "mid", "zeta"), List.copyOf(config.values().keySet()));
    assertThrows(UnsupportedOperationException.class, () -> config.values().put("x", 1L));
  }
}
