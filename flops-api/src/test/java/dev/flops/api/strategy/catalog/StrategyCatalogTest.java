package dev.flops.api.strategy.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StrategyCatalogTest {

  @Test
  void everyStrategyBuildsWithItsDefaultsAndWithEveryKnobAtItsDefault() {
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      Strategy plain = StrategyCatalog.create(choice.name(), FedAvg.builder());
      assertEquals(choice.name(), plain.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT));
      StringBuilder spec = new StringBuilder(choice.name());
      String separator = ":";
      for (KnobSpec knob : choice.knobs()) {
        if (knob.defaultValue().matches("-?[0-9.eE+-]+")) {
          spec.append(separator).append(knob.name()).append('=').append(knob.defaultValue());
          separator = ",";
        }
      }
      Strategy explicit = StrategyCatalog.create(spec.toString(), FedAvg.builder());
      assertEquals(plain.knobs(), explicit.knobs(), spec.toString());
    }
  }

  @Test
  void namesAreUniqueLowerCaseAndAnyCaseFindsThem() {
    Set<String> names = new HashSet<>();
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      assertTrue(names.add(choice.name()), "twice: " + choice.name());
      assertEquals(choice.name().toLowerCase(java.util.Locale.ROOT), choice.name());
      assertEquals(choice, StrategyCatalog.choice(" " + choice.name().toUpperCase() + " "));
      assertFalse(choice.paper().isBlank(), choice.name());
    }
  }

  @Test
  void anUnknownStrategyListsTheChoices() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.create("fedsgd", FedAvg.builder()));
    assertTrue(e.getMessage().contains("unknown strategy 'fedsgd'"), e.getMessage());
    assertTrue(e.getMessage().contains("fedavg"), e.getMessage());
  }

  @Test
  void malformedKnobsAreRefusedNamingWhatWasTyped() {
    StrategyChoice withKnobs = StrategyCatalog.choices().stream()
        .filter(choice -> !choice.knobs().isEmpty()).findFirst().orElse(null);
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.parse("fedavg:eta=1"));
    assertTrue(none.getMessage().contains("fedavg has no knob 'eta'; it takes none"),
        none.getMessage());
    if (withKnobs == null) {
      return;
    }
    String name = withKnobs.name();
    String knob = withKnobs.knobs().get(0).name();
    assertThrows(IllegalArgumentException.class, () -> StrategyCatalog.parse(name + ":" + knob));
    assertThrows(IllegalArgumentException.class, () -> StrategyCatalog.parse(name + ":" + knob + "="));
    assertThrows(IllegalArgumentException.class, () -> StrategyCatalog.parse(name + ":"));
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.parse(name + ":" + knob + "=1," + knob + "=2"));
    assertTrue(twice.getMessage().contains("given twice"), twice.getMessage());
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.parse(name + ":nonsense=1"));
    assertTrue(unknown.getMessage().contains("its knobs are " + knob), unknown.getMessage());
  }

  @Test
  void helpListsEveryStrategyAndKnobWithItsDefault() {
    String help = StrategyCatalog.help();
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      assertTrue(help.contains(choice.name()), choice.name());
      for (KnobSpec knob : choice.knobs()) {
        assertTrue(help.contains(knob.name()) && help.contains("(default " + knob.defaultValue()),
            choice.name() + ":" + knob.name());
      }
    }
  }

  @Test
  void theBaseSettingsReachTheStrategy() {
    Strategy strategy = StrategyCatalog.create("fedavg", FedAvg.builder().fractionFit(0.25));
    assertEquals(0.25, strategy.knobs().get("fraction_fit"));
  }

  @Test
  void typedKnobsReachTheStrategies() {
    Strategy krum = StrategyCatalog.create("krum:f=2,staging_dir=/tmp/elsewhere", FedAvg.builder());
    assertEquals(2, krum.knobs().get("byzantine"));
    assertEquals("/tmp/elsewhere", String.valueOf(krum.knobs().get("staging_directory")));
    assertEquals(3, StrategyCatalog.create("multikrum:f=1,m=3", FedAvg.builder()).knobs().get("keep"));
    assertEquals(0.01, StrategyCatalog.create("fedadam:eta=0.01", FedAvg.builder()).knobs()
        .get("server_learning_rate"));
    assertEquals(0.5, StrategyCatalog.create("fedprox:mu=0.5", FedAvg.builder()).knobs()
        .get("proximal_mu"));
    IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.create("fedadam:eta=-1", FedAvg.builder()));
    assertTrue(range.getMessage().contains("-1"), range.getMessage());
    IllegalArgumentException notANumber = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.create("krum:f=two", FedAvg.builder()));
    assertEquals("krum: knob 'f' must be a whole number but was 'two'", notANumber.getMessage());
  }

  /** The README's strategy table is written by hand: it must name every strategy and knob. */
  @Test
  void theReadmeTableListsEveryStrategyWithItsKnobsAndDefaults() throws java.io.IOException {
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      String row = readme.lines().filter(l -> l.startsWith("| `" + choice.name() + "` |"))
          .findFirst().orElse(null);
      assertTrue(row != null, "README.md has no strategy row for " + choice.name());
      for (KnobSpec knob : choice.knobs()) {
        String expected = knob.name().equals("staging_dir")
            ? "`staging_dir`" : "`" + knob.name() + "`=" + knob.defaultValue();
        assertTrue(row.contains(expected), "README row of " + choice.name() + " lacks " + expected
            + ": " + row);
      }
    }
  }

  @Test
  void checkLearners_refusesWhatCanNeverCombine_andSaysWhatToChange() {
    StrategyCatalog.checkLearners("krum:f=1", 5);
    StrategyCatalog.checkLearners("bulyan:f=1", 7);
    StrategyCatalog.checkLearners("fedavg", 1);
    IllegalArgumentException krum = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.checkLearners("krum:f=1", 4));
    assertEquals("krum:f=1 needs more than 2f+2 = 4 updates a round but a round has 4 learners: "
        + "give more learners or a smaller f", krum.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.checkLearners("multikrum:f=2", 6));
    IllegalArgumentException keep = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.checkLearners("multikrum:m=5", 3));
    assertTrue(keep.getMessage().startsWith("multikrum:m=5 averages more updates than the 3"),
        keep.getMessage());
    IllegalArgumentException bulyan = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.checkLearners("bulyan:f=2", 10));
    assertTrue(bulyan.getMessage().startsWith("bulyan:f=2 needs at least 4f+3 = 11"),
        bulyan.getMessage());
  }

  @Test
  void aBuilderRefusal_isPrefixedWithTheStrategysName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StrategyCatalog.create("fedprox:mu=0", FedAvg.builder()));
    assertTrue(e.getMessage().startsWith("fedprox: "), e.getMessage());
  }
}
