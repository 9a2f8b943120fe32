package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The float32 scan reads two values at a time ({@code FiniteScan.firstNonFiniteFloat}): every
 * non-finite bit pattern must be found in either half of a pair, in an odd last value, across
 * block boundaries, and nothing finite may be mistaken for one.
 */
class FiniteScanTest {
  private static final int[] NON_FINITE_BITS = {
      0x7fc0_0000, 0x7f80_0001, 0x7fff_ffff, 0xffc0_0000, 0xff80_0001, // NaNs, both signs
      0x7f80_0000, 0xff80_0000}; // +Infinity, -Infinity
  private static final int[] EXTREME_FINITE_BITS = {
      0x7f7f_ffff, 0xff7f_ffff, 0x0000_0001, 0x8000_0001, 0x0000_0000, 0x8000_0000, 0x0080_0000,
      0x007f_ffff, 0x3f80_0000};

  @Test
  void everyNonFiniteValue_foundAtItsOwnIndex_inEitherHalfOfAPair_andAcrossBlocks() {
    int block = 2 * FiniteScan.SCAN_BLOCK;
    for (int n : new int[] {1, 2, 3, 7, 8, block - 1, block, block + 1, 2 * block + 3}) {
      for (int at : new int[] {0, 1, n / 2, n - 2, n - 1, block - 1, block, block + 1}) {
        if (at < 0 || at >= n) {
          continue;
        }
        for (int bits : NON_FINITE_BITS) {
          ByteBuffer values = finite(n);
          values.putInt(4 * at, bits);
          assertEquals(Optional.of(String.format("tensor 'w' holds a non-finite value (%s) at "
                  + "element %d", Float.intBitsToFloat(bits), 100 + at)),
              FiniteScan.describeNonFinite("w", DType.FLOAT32, values, 100),
              "n=" + n + " at=" + at + " bits=" + Integer.toHexString(bits));
        }
      }
    }
  }

  @Test
  void extremeFiniteValues_inEveryPosition_areFinite() {
    int n = EXTREME_FINITE_BITS.length * 2 + 1;
    ByteBuffer values = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      values.putInt(4 * i, EXTREME_FINITE_BITS[i % EXTREME_FINITE_BITS.length]);
    }
    assertEquals(Optional.empty(), FiniteScan.describeNonFinite("w", DType.FLOAT32, values, 0));
    assertEquals(Optional.empty(),
        FiniteScan.describeNonFinite("w", DType.FLOAT32, values.position(4), 1));
  }

  @Test
  void randomBits_agreeWithFloatIsFinite_value_by_value() {
    SplittableRandom random = new SplittableRandom(13);
    for (int trial = 0; trial < 2000; trial++) {
      int n = 1 + random.nextInt(5000);
      ByteBuffer values = finite(n);
      int expected = -1;
      for (int k = random.nextInt(3); k > 0; k--) { // 0 to 2 random bit patterns
        int at = random.nextInt(n);
        int bits = random.nextInt();
        values.putInt(4 * at, bits);
      }
      for (int i = 0; i < n; i++) {
        if (!Float.isFinite(values.getFloat(4 * i))) {
          expected = i;
          break;
        }
      }
      Optional<String> found = FiniteScan.describeNonFinite("w", DType.FLOAT32, values, 0);
      assertEquals(expected >= 0, found.isPresent(), "trial " + trial);
      if (expected >= 0) {
        assertEquals(true, found.get().endsWith("at element " + expected), found.get());
      }
    }
  }

  /** {@code n} small finite float32 values, little-endian, on the heap. */
  private static ByteBuffer finite(int n) {
    ByteBuffer values = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      values.putFloat(4 * i, (i % 97) * 0.01f - 0.5f);
    }
    return values;
  }
}
