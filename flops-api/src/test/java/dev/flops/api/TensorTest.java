package dev.flops.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import org.junit.jupiter.api.Test;

class TensorTest {

  @Test
  void ofFloats_copiesItsInput() {
    float[] values = {1f, 2f, 3f, 4f};
    Tensor tensor = Tensor.ofFloats("w", new long[] {2, 2}, values);

    values[0] = 99f;

    assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, tensor.toFloatArray());
  }

  @Test
  void ofFloats_storesLittleEndianRowMajorData() {
    Tensor tensor = Tensor.ofFloats("w", new long[] {1, 2}, new float[] {1.5f, -2f});

    ByteBuffer data = tensor.data();

    assertEquals(ByteOrder.LITTLE_ENDIAN, data.order());
    assertEquals(0, data.position());
    assertEquals(8, data.remaining());
    assertEquals(Float.floatToRawIntBits(1.5f), Integer.reverseBytes(
        ByteBuffer.wrap(new byte[] {data.get(0), data.get(1), data.get(2), data.get(3)}).getInt()));
    assertEquals(-2f, data.getFloat(4));
  }

  @Test
  void vectorFactory_usesValueCountAsShape() {
    Tensor tensor = Tensor.ofFloats("b", 1f, 2f, 3f);

    assertArrayEquals(new long[] {3}, tensor.shape());
    assertEquals(3, tensor.elementCount());
    assertEquals(12, tensor.byteSize());
    assertEquals(DType.FLOAT32, tensor.dtype());
  }

  @Test
  void ofFloats_valueCountNotMatchingShape_throwsNamingTensorAndSizes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Tensor.ofFloats("dense_W", new long[] {2, 3}, new float[5]));

    assertTrue(e.getMessage().contains("dense_W"), e.getMessage());
    assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
    assertTrue(e.getMessage().contains("24"), e.getMessage());
    assertTrue(e.getMessage().contains("20"), e.getMessage());
  }

  @Test
  void constructor_dataSizeNotMatchingDtype_throwsNamingTensor() {
    // 3 float32 elements need 12 bytes; 3 float64 elements need 24.
    ByteBuffer twelveBytes = ByteBuffer.allocate(12);

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Tensor("counts", DType.FLOAT64, new long[] {3}, twelveBytes));

    assertTrue(e.getMessage().contains("'counts'"), e.getMessage());
    assertTrue(e.getMessage().contains("FLOAT64"), e.getMessage());
    assertTrue(e.getMessage().contains("24"), e.getMessage());
    assertTrue(e.getMessage().contains("12"), e.getMessage());
  }

  @Test
  void constructor_countsOnlyBytesFromPositionToLimit() {
    ByteBuffer buffer = ByteBuffer.allocate(16);
    buffer.position(4);

    Tensor tensor = new Tensor("t", DType.INT32, new long[] {3}, buffer);

    assertEquals(12, tensor.byteSize());
    assertEquals(0, tensor.data().position());
  }

  @Test
  void constructor_negativeDimension_throwsNamingTensorAndShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Tensor("bad", DType.FLOAT32, new long[] {2, -1}, ByteBuffer.allocate(0)));

    assertTrue(e.getMessage().contains("'bad'"), e.getMessage());
    assertTrue(e.getMessage().contains("negative"), e.getMessage());
    assertTrue(e.getMessage().contains("[2, -1]"), e.getMessage());
  }

  @Test
  void constructor_twoNegativeDimensionsWithPositiveProduct_stillRejected() {
    assertThrows(IllegalArgumentException.class,
        () -> new Tensor("bad", DType.FLOAT32, new long[] {-1, -2}, ByteBuffer.allocate(8)));
  }

  @Test
  void constructor_blankName_throws() {
    assertThrows(IllegalArgumentException.class,
        () -> Tensor.ofFloats(" ", new long[] {1}, new float[] {1f}));
  }

  @Test
  void scalarAndEmptyShapes_haveOneAndZeroElements() {
    Tensor scalar = Tensor.ofFloats("s", new long[0], new float[] {7f});
    Tensor empty = Tensor.ofFloats("e", new long[] {0, 5}, new float[0]);

    assertEquals(1, scalar.elementCount());
    assertEquals(4, scalar.byteSize());
    assertArrayEquals(new float[] {7f}, scalar.toFloatArray());
    assertEquals(0, empty.elementCount());
    assertEquals(0, empty.byteSize());
  }

  @Test
  void shape_returnsACopy() {
    long[] shape = {2, 2};
    Tensor tensor = Tensor.ofFloats("w", shape, new float[4]);

    shape[0] = 7;
    tensor.shape()[1] = 9;

    assertArrayEquals(new long[] {2, 2}, tensor.shape());
  }

  @Test
  void data_isReadOnlyAndEachViewIndependent() {
    Tensor tensor = Tensor.ofFloats("b", 1f, 2f);

    ByteBuffer first = tensor.data();
    first.getFloat();

    assertTrue(first.isReadOnly());
    assertThrows(ReadOnlyBufferException.class, () -> first.putFloat(0, 5f));
    assertEquals(0, tensor.data().position());
    assertArrayEquals(new float[] {1f, 2f}, tensor.toFloatArray());
  }

  @Test
  void equalsAndHashCode_compareByValue() {
    Tensor a = Tensor.ofFloats("w", new long[] {2}, new float[] {1f, 2f});
    Tensor b = Tensor.ofFloats("w", new long[] {2}, new float[] {1f, 2f});
    ByteBuffer littleEndian = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    littleEndian.putFloat(1f).putFloat(2f).flip();
    Tensor fromBuffer = new Tensor("w", DType.FLOAT32, new long[] {2}, littleEndian);

    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertEquals(a, fromBuffer);
    assertEquals(a.hashCode(), fromBuffer.hashCode());
  }

  @Test
  void equals_differsWhenNameShapeDtypeOrDataDiffer() {
    Tensor a = Tensor.ofFloats("w", new long[] {2}, new float[] {1f, 2f});

    assertNotEquals(a, Tensor.ofFloats("v", new long[] {2}, new float[] {1f, 2f}));
    assertNotEquals(a, Tensor.ofFloats("w", new long[] {1, 2}, new float[] {1f, 2f}));
    assertNotEquals(a, Tensor.ofFloats("w", new long[] {2}, new float[] {1f, 3f}));
    assertNotEquals(a, new Tensor("w", DType.INT32, new long[] {2}, a.data()));
    assertNotEquals(a, null);
  }

  @Test
  void toFloatArray_onNonFloat32_throwsNamingTensorAndDtype() {
    Tensor ints = new Tensor("steps", DType.INT64, new long[] {1}, ByteBuffer.allocate(8));

    IllegalStateException e = assertThrows(IllegalStateException.class, ints::toFloatArray);

    assertTrue(e.getMessage().contains("'steps'"), e.getMessage());
    assertTrue(e.getMessage().contains("INT64"), e.getMessage());
  }

  @Test
  void sameSpec_ignoresDataButNotStructure() {
    Tensor a = Tensor.ofFloats("w", new long[] {2}, new float[] {1f, 2f});

    assertTrue(a.sameSpec(Tensor.ofFloats("w", new long[] {2}, new float[] {3f, 4f})));
    assertEquals("w FLOAT32[2]", a.spec());
  }
}
