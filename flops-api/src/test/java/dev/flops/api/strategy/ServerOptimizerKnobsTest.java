package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The builders of FedAvgM, FedAdagrad, FedAdam, FedYogi and FedProx: defaults, knobs, the FedAvg
 * settings they carry, and every bad value refused at once with its range. Their maths and state
 * run on real kernels in flops-aggregator's tests.
 */
class ServerOptimizerKnobsTest {

  private static final List<String> LEARNERS = List.of("a", "b", "c", "d");
  private static final Parameters GLOBAL = Parameters.of(Tensor.ofFloats("w", 1f, 2f));

  @Test
  void defaults_areTheDocumentedOnes_andKnobsExtendFedAvgs() {
    Map<String, Object> fedAvg = FedAvg.withDefaults().knobs();

    assertEquals(with(fedAvg, "server_learning_rate", 1.0, "momentum", 0.9),
        FedAvgM.builder().build().knobs());
    assertEquals(with(fedAvg, "server_learning_rate", 0.1, "beta1", 0.9, "tau", 1e-9),
        FedAdagrad.builder().build().knobs());
    assertEquals(with(fedAvg, "server_learning_rate", 0.1, "beta1", 0.9, "beta2", 0.99,
        "tau", 1e-9), FedAdam.builder().build().knobs());
    assertEquals(with(fedAvg, "server_learning_rate", 0.01, "beta1", 0.9, "beta2", 0.99,
        "tau", 1e-3), FedYogi.builder().build().knobs());
    assertEquals(with(fedAvg, "proximal_mu", 0.1),
        FedProx.builder().proximalMu(0.1).build().knobs());
  }

  @Test
  void setters_andBase_reachTheStrategy() {
    FedAdam adam = FedAdam.builder().serverLearningRate(0.01).beta1(0.5).beta2(0.9).tau(1e-3)
        .base(FedAvg.builder().fractionFit(0.5).samplingSeed(1)).build();
    FedAvgM momentum = FedAvgM.builder().serverLearningRate(0.7).momentum(0)
        .base(FedAvg.builder().fractionFit(0.25).minFitLearners(3)).build();

    assertEquals(0.01, adam.knobs().get("server_learning_rate"));
    assertEquals(0.5, adam.knobs().get("beta1"));
    assertEquals(0.9, adam.knobs().get("beta2"));
    assertEquals(1e-3, adam.knobs().get("tau"));
    assertEquals(0.5, adam.knobs().get("fraction_fit"));
    assertEquals(2, adam.configureFit(1, GLOBAL, LEARNERS).size(), "half of 4 learners");
    assertEquals(3, momentum.configureFit(1, GLOBAL, LEARNERS).size(),
        "a quarter of 4, but at least 3");
    assertEquals("FedAdam" + adam.knobs(), adam.toString());
  }

  @Test
  void badValues_areRefusedAtOnce_namingKnobRangeAndValue() {
    assertRefused(() -> FedAvgM.builder().serverLearningRate(0), "serverLearningRate", "0.0");
    assertRefused(() -> FedAvgM.builder().serverLearningRate(Double.POSITIVE_INFINITY),
        "serverLearningRate", "Infinity");
    assertRefused(() -> FedAvgM.builder().momentum(1), "momentum", "[0, 1)");
    assertRefused(() -> FedAvgM.builder().momentum(-0.1), "momentum", "-0.1");
    assertRefused(() -> FedAdam.builder().serverLearningRate(Double.NaN), "serverLearningRate",
        "NaN");
    assertRefused(() -> FedAdam.builder().beta1(1.0), "beta1", "[0, 1)");
    assertRefused(() -> FedAdam.builder().beta2(-1), "beta2", "-1.0");
    assertRefused(() -> FedYogi.builder().beta2(1.5), "beta2", "1.5");
    assertRefused(() -> FedYogi.builder().tau(0), "tau", "(0, inf)");
    assertRefused(() -> FedAdagrad.builder().tau(-1e-9), "tau", "-1.0E-9");
    assertRefused(() -> FedProx.builder().proximalMu(0), "proximalMu", "(0, inf)");
    assertRefused(() -> FedProx.builder().proximalMu(Double.NaN), "proximalMu", "NaN");
    assertThrows(NullPointerException.class, () -> FedAdam.builder().base(null));
    assertThrows(NullPointerException.class, () -> FedAvgM.builder().base(null));
    assertThrows(NullPointerException.class, () -> FedProx.builder().base(null));
  }

  @Test
  void fedProx_withoutMu_isRefusedAtBuild_sayingWhatToSet() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> FedProx.builder().build());

    assertTrue(e.getMessage().contains("proximalMu("), e.getMessage());
  }

  @Test
  void fedProx_addsProximalMuToEveryFitConfig_keepingTheBasesEntries() {
    FedProx prox = FedProx.builder().proximalMu(0.01)
        .base(FedAvg.builder().fitConfig(round -> Config.of("local_epochs", round))).build();

    for (int round = 1; round <= 2; round++) {
      for (Instruction instruction : prox.configureFit(round, GLOBAL, LEARNERS)) {
        assertEquals(0.01, instruction.config().getDouble(FedProx.PROXIMAL_MU, 0));
        assertEquals(round, instruction.config().getInt("local_epochs", 0));
      }
    }
    assertTrue(prox.configureEvaluate(1, GLOBAL, LEARNERS).stream()
        .noneMatch(instruction -> instruction.config().contains(FedProx.PROXIMAL_MU)),
        "evaluation does not train, so it carries no proximal_mu");
  }

  @Test
  void fedProx_baseConfigWithAnotherMu_isRefusedNamingBoth() {
    FedProx prox = FedProx.builder().proximalMu(0.01)
        .base(FedAvg.builder().fitConfig(round -> Config.of(FedProx.PROXIMAL_MU, 0.5))).build();

    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> prox.configureFit(1, GLOBAL, LEARNERS));

    assertTrue(e.getMessage().contains("0.5") && e.getMessage().contains("0.01"), e.getMessage());
  }

  @Test
  void restoreState_ofAnotherStrategy_isRefused_andChangesNothing() {
    FedAdam adam = FedAdam.builder().base(FedAvg.builder().samplingSeed(5)).build();
    StrategyState before = adam.saveState();
    StrategyState momentumState = FedAvgM.builder().build().saveState();
    StrategyState fedAvgState = FedAvg.withDefaults().saveState();

    IllegalArgumentException fromMomentum = assertThrows(IllegalArgumentException.class,
        () -> adam.restoreState(momentumState));
    IllegalArgumentException fromFedAvg = assertThrows(IllegalArgumentException.class,
        () -> adam.restoreState(fedAvgState));

    assertTrue(fromMomentum.getMessage().contains("written by FedAvgM, not FedAdam"),
        fromMomentum.getMessage());
    assertTrue(fromFedAvg.getMessage().contains("without server-optimizer state"),
        fromFedAvg.getMessage());
    assertEquals(before.values(), adam.saveState().values(), "the sampling seed was not touched");
  }

  @Test
  void restoreState_withAStrayTensor_isRefusedNamingIt() {
    FedAvgM momentum = FedAvgM.builder().build();
    StrategyState stray = momentum.saveState()
        .withTensors(Parameters.of(Tensor.ofFloats("momentum_w", 1f)));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> momentum.restoreState(stray));

    assertTrue(e.getMessage().contains("'momentum_w'") && e.getMessage().contains("[velocity]"),
        e.getMessage());
  }

  @Test
  void restoreState_withMomentsOfDifferentShapes_isRefused() {
    FedAdam adam = FedAdam.builder().build();
    StrategyState uneven = adam.saveState().withTensors(Parameters.of(
        Tensor.ofFloats("m/w", 1f, 2f), Tensor.ofFloats("v/w", 1f)));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> adam.restoreState(uneven));

    assertTrue(e.getMessage().contains("slot 'v'"), e.getMessage());
  }

  /** A Strategy method added later would otherwise skip FedAvg's override in these five. */
  @Test
  void forwardingStrategy_forwardsEveryStrategyMethod() {
    for (Method method : Strategy.class.getMethods()) {
      assertDoesNotThrow(() -> ForwardingStrategy.class.getDeclaredMethod(method.getName(),
          method.getParameterTypes()), "ForwardingStrategy must forward " + method);
    }
  }

  private static void assertRefused(Executable setter, String knob, String detail) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setter::run);
    assertTrue(e.getMessage().contains(knob) && e.getMessage().contains(detail),
        "'" + e.getMessage() + "' should name " + knob + " and " + detail);
  }

  /** A setter call, so that the assertion above reads as the call it checks. */
  @FunctionalInterface
  private interface Executable {
    void run();
  }

  private static Map<String, Object> with(Map<String, Object> base, Object... keysAndValues) {
    Map<String, Object> knobs = new LinkedHashMap<>(base);
    for (int i = 0; i < keysAndValues.length; i += 2) {
      knobs.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return knobs;
  }
}
