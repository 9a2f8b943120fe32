package dev.flops.benchmarks.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
