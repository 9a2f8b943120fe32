package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PartitioningTest {

  @Test
  void parsesTheAcceptedForms() {
    assertEquals(new Partitioning.Iid(), Partitioning.parse("iid"));
    assertEquals(new Partitioning.Dirichlet(0.5), Partitioning.parse("dirichlet:0.5"));
    assertEquals(new Partitioning.Labels(2), Partitioning.parse("labels:2"));
    assertEquals(new Partitioning.Dirichlet(0.1), Partitioning.parse(" Dirichlet: 0.1 "));
  }

  @ParameterizedTest
  @ValueSource(strings = {"iid", "dirichlet:0.5", "dirichlet:100.0", "labels:2"})
  void toStringGivesBackTheFlagForm(String flag) {
    Partitioning parsed = Partitioning.parse(flag);

    assertEquals(parsed, Partitioning.parse(parsed.toString()));
    assertTrue(flag.startsWith(parsed.toString().split(":")[0]));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"", "random", "iid:3", "dirichlet", "dirichlet:", "dirichlet:x", "labels:two"})
  void otherFormsAreRejectedListingTheAcceptedOnes(String text) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Partitioning.parse(text));

    assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
    assertTrue(e.getMessage().contains(Partitioning.ACCEPTED_FORMS), e.getMessage());
  }

  @Test
  void outOfRangeParametersAreRejectedNamingTheValue() {
    IllegalArgumentException alpha =
        assertThrows(IllegalArgumentException.class, () -> Partitioning.parse("dirichlet:-1"));
    IllegalArgumentException k =
        assertThrows(IllegalArgumentException.class, () -> Partitioning.parse("labels:0"));

    assertTrue(alpha.getMessage().contains("got -1.0"), alpha.getMessage());
    assertTrue(alpha.getMessage().contains(Partitioning.ACCEPTED_FORMS), alpha.getMessage());
    assertTrue(k.getMessage().contains("got 0"), k.getMessage());
  }

  @Test
  void labelsAboveTheClassCountAreRejectedAtSplitTime() {
    Partitioning eleven = Partitioning.parse("labels:11");

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> eleven.split(new int[] {0, 1, 2}, 10, 2, 1));

    assertTrue(e.getMessage().contains("got 11"), e.getMessage());
  }
}
