package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PropertiesTest {

  @Test
  void runsEveryCaseFromSeedsTheBaseSeedFixes() {
    List<Long> first = new ArrayList<>();
    List<Long> second = new ArrayList<>();
    Properties.run("records", 200, 42L, random -> first.add(random.nextLong()));
    Properties.run("records", 200, 42L, random -> second.add(random.nextLong()));
    List<Long> other = new ArrayList<>();
    Properties.run("records", 200, 43L, random -> other.add(random.nextLong()));

    assertEquals(200, first.size());
    assertEquals(first, second);
    assertEquals(200, new HashSet<>(first).size(), "each case draws from its own seed");
    assertTrue(first.stream().noneMatch(other::contains), "another base seed, other cases");
  }

  @Test
  void aFailureNamesTheSeedThatReplaysIt() {
    Properties.Property rareFailure = random -> assertTrue(random.nextInt(100) != 7, "drew 7");

    AssertionError failure = assertThrows(AssertionError.class,
        () -> Properties.run("never draws 7", 500, 1L, rareFailure));

    Matcher seed = Pattern.compile("seed=(-?\\d+)").matcher(failure.getMessage());
    assertTrue(seed.find(), failure.getMessage());
    assertTrue(failure.getMessage().startsWith("property 'never draws 7' failed for case "),
        failure.getMessage());
    assertTrue(failure.getMessage().contains("drew 7"), failure.getMessage());
    assertTrue(failure.getMessage().contains(
        "-Dtest='PropertiesTest#aFailureNamesTheSeedThatReplaysIt'"
            + " -Dsurefire.failIfNoSpecifiedTests=false -Dflops.properties.case=" + seed.group(1)),
        failure.getMessage());
    AssertionError replayed = assertThrows(AssertionError.class,
        () -> rareFailure.check(new SplittableRandom(Long.parseLong(seed.group(1)))));
    assertEquals("drew 7", replayed.getMessage().split(" ==>")[0]);
  }

  @Test
  void anExceptionFailsThePropertyWithItsSeed() {
    AssertionError failure = assertThrows(AssertionError.class, () -> Properties.run(
        "parses", 10, 1L, random -> Long.parseLong("not a number")));

    assertTrue(failure.getMessage().matches("(?s)property 'parses' failed for case 1 of 10, "
        + "seed=-?\\d+: java.lang.NumberFormatException.*"), failure.getMessage());
    assertTrue(failure.getCause() instanceof NumberFormatException);
  }

  @Test
  void aGeneratorThatAcceptsNothingIsReportedAsBroken() {
    IllegalStateException broken = assertThrows(IllegalStateException.class,
        () -> Properties.generate(() -> 1, n -> n > 1, "numbers above one"));

    assertEquals("the generator of numbers above one produced no acceptable value in 1000 draws;"
        + " widen the generator or loosen the condition", broken.getMessage());
  }

  @Test
  void refusesTooFewTries() {
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> Properties.run("any", 0, 1L, random -> { }));

    assertEquals("tries must be at least 1 but was 0", refused.getMessage());
  }
}
