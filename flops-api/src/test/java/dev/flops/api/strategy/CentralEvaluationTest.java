package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** FedAvg's central evaluation hook: Flower's evaluate_fn. */
class CentralEvaluationTest {
  private static final Parameters GLOBAL =
      new Parameters(List.of(Tensor.ofFloats("w", new long[] {2}, new float[] {1, 2})));

  @Test
  void withoutAFunction_thereIsNoCentralEvaluation() {
    assertEquals(Optional.empty(), FedAvg.withDefaults().evaluate(1, GLOBAL));
  }

  @Test
  void theFunction_seesTheRoundAndTheGlobalParameters() {
    EvaluateResult result = EvaluateResult.of(0.4, 0.9, 10_000);
    FedAvg fedAvg = FedAvg.builder().centralEvaluation((round, global) -> {
      assertEquals(3, round);
      assertSame(GLOBAL, global);
      return result;
    }).build();
    assertEquals(Optional.of(result), fedAvg.evaluate(3, GLOBAL));
  }

  @Test
  void aFunctionReturningNull_isNamedWithTheRound() {
    FedAvg fedAvg = FedAvg.builder().centralEvaluation((round, global) -> null).build();
    NullPointerException e = assertThrows(NullPointerException.class,
        () -> fedAvg.evaluate(2, GLOBAL));
    assertEquals("the central evaluation function returned null for round 2", e.getMessage());
  }

  @Test
  void aNullFunction_isRefusedAtOnce() {
    NullPointerException e = assertThrows(NullPointerException.class,
        () -> FedAvg.builder().centralEvaluation(null));
    assertEquals("centralEvaluation", e.getMessage());
  }
}
