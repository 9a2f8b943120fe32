package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ParametersTest {

  private static final Tensor W = Tensor.ofFloats("0_W", new long[] {2, 3}, new float[6]);
  private static final Tensor B = Tensor.ofFloats("0_b", new long[] {1, 3}, new float[3]);

  @Test
  void duplicateNames_rejectedNamingTheName() {
    Tensor again = Tensor.ofFloats("0_W", new long[] {1}, new float[1]);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Parameters.of(W, B, again));

    assertTrue(e.getMessage().contains("'0_W'"), e.getMessage());
  }

  @Test
  void constructor_copiesTheList() {
    List<Tensor> tensors = new ArrayList<>(List.of(W));
    Parameters parameters = new Parameters(tensors);

    tensors.add(B);

    assertEquals(List.of("0_W"), parameters.names());
  }

  @Test
  void namesSizeAndCounts_followTheTensorsInOrder() {
    Parameters parameters = Parameters.of(B, W);

    assertEquals(List.of("0_b", "0_W"), parameters.names());
    assertEquals(2, parameters.size());
    assertEquals(9, parameters.elementCount());
    assertEquals(36, parameters.byteSize());
  }

  @Test
  void get_returnsTheTensorWithThatName() {
    Parameters parameters = Parameters.of(W, B);

    assertSame(B, parameters.get("0_b"));
    assertEquals(Optional.of(W), parameters.find("0_W"));
    assertEquals(Optional.empty(), parameters.find("1_W"));
  }

  @Test
  void get_missingName_throwsListingAvailableNames() {
    Parameters parameters = Parameters.of(W, B);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> parameters.get("1_W"));

    assertTrue(e.getMessage().contains("'1_W'"), e.getMessage());
    assertTrue(e.getMessage().contains("[0_W, 0_b]"), e.getMessage());
  }

  @Test
  void describeMismatch_sameStructureDifferentValues_isEmpty() {
    Parameters expected = Parameters.of(W, B);
    Parameters actual = Parameters.of(
        Tensor.ofFloats("0_W", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}),
        Tensor.ofFloats("0_b", new long[] {1, 3}, new float[] {1, 1, 1}));

    assertEquals(Optional.empty(), expected.describeMismatch(actual));
  }

  @Test
  void describeMismatch_differentCount_reportsBothCountsAndNames() {
    String mismatch = Parameters.of(W, B).describeMismatch(Parameters.of(W)).orElseThrow();

    assertTrue(mismatch.contains("expected 2 tensors [0_W, 0_b]"), mismatch);
    assertTrue(mismatch.contains("got 1 [0_W]"), mismatch);
  }

  @Test
  void describeMismatch_differentName_reportsPositionAndBothSpecs() {
    Tensor renamed = Tensor.ofFloats("0_bias", new long[] {1, 3}, new float[3]);

    String mismatch = Parameters.of(W, B).describeMismatch(Parameters.of(W, renamed)).orElseThrow();

    assertTrue(mismatch.contains("tensor #1"), mismatch);
    assertTrue(mismatch.contains("0_b FLOAT32[1, 3]"), mismatch);
    assertTrue(mismatch.contains("0_bias FLOAT32[1, 3]"), mismatch);
  }

  @Test
  void describeMismatch_differentShape_reportsBothShapes() {
    Tensor transposed = Tensor.ofFloats("0_W", new long[] {3, 2}, new float[6]);

    String mismatch = Parameters.of(W, B).describeMismatch(Parameters.of(transposed, B))
        .orElseThrow();

    assertTrue(mismatch.contains("tensor #0"), mismatch);
    assertTrue(mismatch.contains("0_W FLOAT32[2, 3]"), mismatch);
    assertTrue(mismatch.contains("0_W FLOAT32[3, 2]"), mismatch);
  }

  @Test
  void describeMismatch_differentDtype_reportsBothDtypes() {
    Tensor ints = new Tensor("0_b", DType.INT32, new long[] {1, 3}, ByteBuffer.allocate(12));

    String mismatch = Parameters.of(W, B).describeMismatch(Parameters.of(W, ints)).orElseThrow();

    assertTrue(mismatch.contains("0_b FLOAT32[1, 3]"), mismatch);
    assertTrue(mismatch.contains("0_b INT32[1, 3]"), mismatch);
  }

  @Test
  void describeMismatch_sameTensorsInAnotherOrder_isAMismatch() {
    assertTrue(Parameters.of(W, B).describeMismatch(Parameters.of(B, W)).isPresent());
  }
}
