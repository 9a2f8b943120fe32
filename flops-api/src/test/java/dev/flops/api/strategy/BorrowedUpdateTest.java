package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An update is lent to {@code accept} only: the aggregator decodes every upload into the same
 * reused buffer, as this test does with {@link #decodeInto}.
 */
class BorrowedUpdateTest {

  /** The aggregator's upload slot: one direct buffer that every upload is decoded into. */
  private final ByteBuffer slot = ByteBuffer.allocateDirect(4).order(ByteOrder.LITTLE_ENDIAN);

  private FitResult decodeInto(float value) {
    slot.putFloat(0, value);
    return FitResult.of(Parameters.of(new Tensor("w", dev.flops.api.DType.FLOAT32,
        new long[] {1}, slot.duplicate().order(ByteOrder.LITTLE_ENDIAN))), 1);
  }

  /** A median written naively: it keeps the updates it is handed and reads them at the end. */
  private static final class NaiveMedian implements FitAggregation {
    final List<BorrowedUpdate> kept = new ArrayList<>();

    @Override
    public void accept(BorrowedUpdate update) {
      kept.add(update);
    }

    @Override
    public AggregationResult finish(List<LearnerFailure> failures) {
      float[] values = new float[kept.size()];
      for (int i = 0; i < values.length; i++) {
        values[i] = kept.get(i).copyParameters().get("w").toFloatArray()[0];
      }
      Arrays.sort(values);
      return AggregationResult.of(Parameters.of(Tensor.ofFloats("w", values[values.length / 2])),
          values.length, values.length, Map.of());
    }
  }

  /** The same median done right: it copies what it keeps during accept. */
  private static final class CopyingMedian implements FitAggregation {
    final List<Float> values = new ArrayList<>();

    @Override
    public void accept(BorrowedUpdate update) {
      values.add(update.copyParameters().get("w").toFloatArray()[0]);
    }

    @Override
    public AggregationResult finish(List<LearnerFailure> failures) {
      List<Float> sorted = new ArrayList<>(values);
      sorted.sort(null);
      return AggregationResult.of(Parameters.of(Tensor.ofFloats("w", sorted.get(1))), 3, 3,
          Map.of());
    }
  }

  private void offerAll(FitAggregation aggregation, float... updates) {
    int i = 0;
    for (float value : updates) {
      BorrowedUpdate update = BorrowedUpdate.lend("learner-" + ++i, decodeInto(value));
      aggregation.accept(update);
      update.release();
    }
  }

  @Test
  void naiveMedianThatKeepsUpdates_throwsInsteadOfReadingTheReusedBuffer() {
    NaiveMedian median = new NaiveMedian();
    offerAll(median, 10f, 1f, 2f);

    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> median.finish(List.of()));

    assertTrue(e.getMessage().contains("learner-1"), e.getMessage());
    assertTrue(e.getMessage().contains("copyParameters()"), e.getMessage());
  }

  @Test
  void medianThatCopiesDuringAccept_getsTheRightAnswer() {
    CopyingMedian median = new CopyingMedian();
    offerAll(median, 10f, 1f, 2f);

    Parameters result = median.finish(List.of()).parameters().orElseThrow();

    assertArrayEquals(new float[] {2f}, result.get("w").toFloatArray());
    assertEquals(List.of(10f, 1f, 2f), median.values);
  }

  @Test
  void everyReadOfTheParametersAfterRelease_throws_butValuesStayReadable() {
    BorrowedUpdate update = BorrowedUpdate.lend("learner-7",
        new FitResult(Parameters.of(Tensor.ofFloats("w", 3f)), 12, Map.of("train_loss", 0.5)));
    update.release();

    assertThrows(IllegalStateException.class, update::copyParameters);
    assertThrows(IllegalStateException.class, () -> update.withParameters(p -> p.size()));
    assertThrows(IllegalStateException.class,
        () -> update.addTo(new FedAvgTest.DoubleKernel().begin(
            Parameters.of(Tensor.ofFloats("w", 0f))), 1.0));
    assertEquals("learner-7", update.learnerId());
    assertEquals(12, update.numExamples());
    assertEquals(Map.of("train_loss", 0.5), update.metrics());
  }

  @Test
  void copyParameters_isIndependentOfTheBuffer() {
    BorrowedUpdate update = BorrowedUpdate.lend("learner-1", decodeInto(4f));
    Parameters copy = update.copyParameters();
    update.release();

    decodeInto(99f);

    assertArrayEquals(new float[] {4f}, copy.get("w").toFloatArray());
  }
}
