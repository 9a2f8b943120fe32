package dev.flops.benchmarks.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SyntheticParametersTest {

  @Test
  void layout_cutsIntoAsFewTensorsAsAllowed_ofNearlyEqualSizes() {
    assertArrayEquals(new int[] {4, 3, 3}, SyntheticParameters.layout(10, 4));
    assertArrayEquals(new int[] {10_000_000}, SyntheticParameters.layout(10_000_000,
        SyntheticParameters.DEFAULT_MAX_TENSOR_ELEMENTS));
  }

  @Test
  void layout_ofTheHugeModel_staysBelowTheByteBufferLimit() {
    int[] sizes = SyntheticParameters.layout(640_000_000L,
        SyntheticParameters.DEFAULT_MAX_TENSOR_ELEMENTS);
    assertEquals(39, sizes.length);
    assertEquals(640_000_000L, Arrays.stream(sizes).asLongStream().sum());
    assertTrue(Arrays.stream(sizes).allMatch(
        s -> s <= SyntheticParameters.DEFAULT_MAX_TENSOR_ELEMENTS));
  }

  @Test
  void layout_rejectsBadSizes_namingTheValue() {
    IllegalArgumentException p = assertThrows(IllegalArgumentException.class,
        () -> SyntheticParameters.layout(0, 10));
    assertTrue(p.getMessage().contains("P must be at least 1 but was 0"), p.getMessage());
    IllegalArgumentException max = assertThrows(IllegalArgumentException.class,
        () -> SyntheticParameters.layout(10, Integer.MAX_VALUE));
    assertTrue(max.getMessage().contains("maxTensorElements"), max.getMessage());
  }

  @Test
  void create_makesNamedFloat32Tensors_ofSmallValues_thatDependOnTheSeed() {
    Parameters parameters = SyntheticParameters.create(1000, 400, 9);

    assertEquals(List.of("t0", "t1", "t2"), parameters.names());
    assertEquals(1000, parameters.elementCount());
    for (Tensor tensor : parameters) {
      assertEquals(DType.FLOAT32, tensor.dtype());
      for (float v : tensor.toFloatArray()) {
        assertTrue(v >= -0.05f && v < 0.05f, "value " + v);
      }
    }
    assertEquals(parameters.tensors(), SyntheticParameters.create(1000, 400, 9).tensors());
    assertTrue(!parameters.tensors().equals(SyntheticParameters.create(1000, 400, 10).tensors()));
  }

  @Test
  void addRepeating_movesEveryValueWithinTheAmplitude_fromAnotherTablePositionEachCall() {
    int n = 3 * SyntheticParameters.Noise.TABLE_SIZE / 2; // wraps around the table once
    SyntheticParameters.Noise noise = new SyntheticParameters.Noise(5, 1e-3f);
    float[] first = new float[n];
    float[] second = new float[n];
    noise.addRepeating(first, n);
    noise.addRepeating(second, n);
    int moved = 0;
    for (int i = 0; i < n; i++) {
      assertTrue(Math.abs(first[i]) <= 1e-3f && Math.abs(second[i]) <= 1e-3f, "value " + i);
      moved += first[i] != 0 ? 1 : 0;
    }
    assertTrue(moved > n * 0.999, "only " + moved + " of " + n + " values moved");
    assertFalse(Arrays.equals(first, second), "two calls added the same noise");
    // past the table's end the values repeat from its start
    int size = SyntheticParameters.Noise.TABLE_SIZE;
    assertEquals(first[0], first[size]);
  }
}
