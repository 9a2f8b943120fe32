package dev.flops.benchmarks.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.DType;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SyntheticTrainerTest {
  private static final float NOISE = 1e-3f;

  @Test
  void fit_returnsTheReceivedParametersPlusSmallNoise_asOneExample() {
    Parameters received = SyntheticParameters.create(1000, 300, 7);
    SyntheticModel model = SyntheticModel.empty();
    model.setParameters(received);

    FitResult result = new SyntheticTrainer(model, 1, NOISE).fit(Config.empty());

    assertEquals(1, result.numExamples());
    assertEquals(Optional.empty(), received.describeMismatch(result.parameters()));
    int changed = 0;
    for (int t = 0; t < received.size(); t++) {
      float[] before = received.tensors().get(t).toFloatArray();
      float[] after = result.parameters().tensors().get(t).toFloatArray();
      for (int i = 0; i < before.length; i++) {
        assertTrue(Math.abs(after[i] - before[i]) <= NOISE,
            "tensor " + t + " value " + i + " moved by " + (after[i] - before[i]));
        if (after[i] != before[i]) {
          changed++;
        }
      }
    }
    assertTrue(changed > 990, "noise changed only " + changed + " of 1000 values");
    assertEquals(SyntheticParameters.create(1000, 300, 7).tensors(), received.tensors(),
        "the received parameters are left as they were");
  }

  @Test
  void fit_learnersWithOtherSeeds_sendOtherUpdates_andEachFitDrawsNewNoise() {
    Parameters received = SyntheticParameters.create(500, 500, 7);
    SyntheticModel a = new SyntheticModel(received);
    SyntheticModel b = new SyntheticModel(received);
    SyntheticTrainer first = new SyntheticTrainer(a, 1, NOISE);

    Parameters one = first.fit(Config.empty()).parameters();
    Parameters again = first.fit(Config.empty()).parameters();
    Parameters other = new SyntheticTrainer(b, 2, NOISE).fit(Config.empty()).parameters();

    assertNotEquals(one.tensors(), again.tensors());
    assertNotEquals(one.tensors(), other.tensors());
  }

  @Test
  void fit_refillsTheResultOfTheFitBeforeLast_andLeavesTheLastOneAlone() {
    Parameters received = SyntheticParameters.create(2000, 700, 7);
    SyntheticTrainer trainer = new SyntheticTrainer(new SyntheticModel(received), 1, NOISE);

    Parameters first = trainer.fit(Config.empty()).parameters();
    List<Tensor> firstValues = copy(first);
    Parameters second = trainer.fit(Config.empty()).parameters();
    List<Tensor> secondValues = copy(second);
    Parameters third = trainer.fit(Config.empty()).parameters();

    assertEquals(copy(third), copy(first), "the third fit wrote into the first one's buffers");
    assertNotEquals(firstValues, copy(first), "the third fit drew new noise");
    assertEquals(secondValues, copy(second), "the second result is untouched by the third fit");
    for (int t = 0; t < received.size(); t++) {
      float[] before = received.tensors().get(t).toFloatArray();
      float[] after = third.tensors().get(t).toFloatArray();
      for (int i = 0; i < before.length; i++) {
        assertTrue(Math.abs(after[i] - before[i]) <= NOISE, "tensor " + t + " value " + i);
      }
    }
  }

  private static List<Tensor> copy(Parameters parameters) {
    return parameters.tensors().stream()
        .map(t -> Tensor.ofFloats(t.name(), t.shape(), t.toFloatArray())).toList();
  }

  @Test
  void fit_withZeroNoise_returnsAnExactCopy() {
    Parameters received = SyntheticParameters.create(100, 64, 3);
    FitResult result =
        new SyntheticTrainer(new SyntheticModel(received), 1, 0f).fit(Config.empty());
    assertEquals(received.tensors(), result.parameters().tensors());
  }

  @Test
  void evaluate_reportsTheMeanSquareOfTheFirstValues_asOneExample() {
    Parameters parameters = SyntheticParameters.create(3000, 2000, 5);
    float[] first = parameters.tensors().get(0).toFloatArray();
    double sum = 0;
    for (int i = 0; i < 1024; i++) {
      sum += (double) first[i] * first[i];
    }
    double expectedLoss = sum / 1024;

    EvaluateResult result =
        new SyntheticTrainer(new SyntheticModel(parameters), 1, NOISE).evaluate(Config.empty());

    assertEquals(1, result.numExamples());
    assertEquals(expectedLoss, result.loss(), 1e-12);
    assertEquals(1 / (1 + expectedLoss), result.accuracy(), 1e-12);
  }

  @Test
  void fitAndEvaluate_beforeAnyParameters_sayWhatIsMissing() {
    SyntheticTrainer trainer = new SyntheticTrainer(SyntheticModel.empty(), 1, NOISE);
    IllegalStateException fit =
        assertThrows(IllegalStateException.class, () -> trainer.fit(Config.empty()));
    assertTrue(fit.getMessage().contains("before any parameters were received"), fit.getMessage());
    assertThrows(IllegalStateException.class, () -> trainer.evaluate(Config.empty()));
  }

  @Test
  void noise_rejectsANegativeAmplitude() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new SyntheticParameters.Noise(1, -1f));
    assertTrue(e.getMessage().contains("-1.0"), e.getMessage());
  }

  @Test
  void fit_rejectsTensorsThatAreNotFloat32() {
    SyntheticModel model = new SyntheticModel(Parameters.of(
        new Tensor("ids", DType.INT32, new long[] {1}, ByteBuffer.allocate(4))));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new SyntheticTrainer(model, 1, NOISE).fit(Config.empty()));
    assertTrue(e.getMessage().contains("ids INT32[1]"), e.getMessage());
  }
}
