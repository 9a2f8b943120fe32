package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AttackTest {

  private static final Parameters GLOBAL = Parameters.of(Tensor.ofFloats("w", 1f, -2f, 0.5f));
  private static final Parameters HONEST = Parameters.of(Tensor.ofFloats("w", 1.5f, -2f, 0f));

  @Test
  void signFlip_reversesAndScalesTheHonestStep() {
    Parameters sent = Attack.parse("sign-flip:5").apply(GLOBAL, HONEST, new SplittableRandom(1));
    // g - 5 (w - g): 1 - 5*0.5, -2 - 0, 0.5 - 5*(-0.5)
    assertArrayEquals(new float[] {-1.5f, -2f, 3f}, sent.get("w").toFloatArray());
  }

  @Test
  void noise_addsGaussianNoiseOfTheGivenSigma() {
    float[] zeros = new float[200_000];
    Parameters zero = Parameters.of(Tensor.ofFloats("w", new long[] {zeros.length}, zeros));
    float[] sent = Attack.parse("noise:0.5").apply(zero, zero, new SplittableRandom(7))
        .get("w").toFloatArray();
    double sum = 0;
    double squares = 0;
    for (float value : sent) {
      sum += value;
      squares += (double) value * value;
    }
    double mean = sum / sent.length;
    assertEquals(0.0, mean, 0.01);
    assertEquals(0.5, Math.sqrt(squares / sent.length - mean * mean), 0.01);
  }

  @Test
  void badForms_nameTheAcceptedOnes() {
    for (String bad : new String[] {"sign-flip", "flip:5", "noise:-1", "noise:x", "sign-flip:NaN"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Attack.parse(bad), bad);
      assertEquals(true, e.getMessage().startsWith("--attack"), e.getMessage());
    }
  }
}
