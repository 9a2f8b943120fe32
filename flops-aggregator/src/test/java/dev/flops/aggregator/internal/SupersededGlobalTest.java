package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.internal.FakeLearnerPool.Reply;
import dev.flops.aggregator.internal.LearnerPool.PhaseKind;
import dev.flops.aggregator.internal.tracking.SystemMetrics;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Instruction;
import dev.flops.api.strategy.Strategy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The round loop frees each superseded global model's off-heap memory at once when neither the
 * strategy nor the model keeps any ({@link Strategy#keepsGlobalParameters()},
 * {@link FederatedModel#keepsParameters()}), ends its downloads first, and never frees what
 * someone may still read: the current and the best round's parameters, those of a strategy or a
 * model that keeps them, the initial model's. Real ND4J kernel; learners faked
 * ({@link FakeLearnerPool}), since freeing is the loop's business, not the transport's
 * (ParameterStreamerTest has a download ended by it).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SupersededGlobalTest {
  /** 1M float32 values: 4 MB a model, far above anything else the test allocates off the heap. */
  private static final int VALUES = 1 << 20;
  private static final long MODEL_BYTES = 4L * VALUES;
  private static final int ROUNDS = 6;

  private final FakeClock clock = new FakeClock();
  private final FakeLearnerPool pool = new FakeLearnerPool(clock);
  private final Nd4jAveraging kernel = new Nd4jAveraging();
  private final Recording model = new Recording(Parameters.of(
      Tensor.ofFloats("w", new long[] {VALUES}, new float[VALUES])));

  /**
   * The aggregator's model copy. It keeps every model it is set, so that the collector cannot
   * free them behind the test's back: only the loop can. It says it keeps none (unless
   * {@code keeps}), which is true of reading: the test never reads a superseded one then.
   */
  private static final class Recording implements FederatedModel {
    final List<Parameters> set = new ArrayList<>();
    boolean keeps;
    private Parameters current;

    Recording(Parameters initial) {
      current = initial;
    }

    @Override
    public Parameters getParameters() {
      return current;
    }

    @Override
    public void setParameters(Parameters parameters) {
      current = parameters;
      set.add(parameters);
    }

    @Override
    public boolean keepsParameters() {
      return keeps;
    }
  }

  /** Adds 1 to every weight; the evaluation loss is lowest in round {@code bestRound}. */
  private static FakeLearnerPool.Script addingOne(int bestRound) {
    return (round, kind, global, config) -> {
      if (kind == PhaseKind.FIT) {
        float[] w = global.get("w").toFloatArray();
        for (int i = 0; i < w.length; i++) {
          w[i] += 1f;
        }
        return Reply.fit(Duration.ofSeconds(1),
            new FitResult(Parameters.of(Tensor.ofFloats("w", new long[] {VALUES}, w)), 10,
                Map.of()));
      }
      return Reply.evaluation(Duration.ofSeconds(1),
          new EvaluateResult(round == bestRound ? 0.1 : 1.0, 10, Map.of()));
    };
  }

  private TrainingResult run(Strategy strategy, Tracking tracking) throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(ROUNDS)
        .roundTimeout(Duration.ofMinutes(1)).learnerWait(Duration.ofMinutes(1))
        .tracking(tracking).build();
    try (Tracker tracker = Tracker.open(tracking, "superseded")) {
      return new RoundLoop(pool, plan, strategy, model, kernel, clock)
          .tracking(tracker, new SystemMetrics(true), "model").run();
    }
  }

  /** Direct and mapped buffers (the test maps none), as the round metrics read them. */
  private static long directBytes() {
    return new SystemMetrics(false).offHeapBytes();
  }

  private static void assertAllEqual(float expected, Parameters parameters) {
    float[] w = parameters.get("w").toFloatArray();
    float[] want = new float[w.length];
    Arrays.fill(want, expected);
    assertArrayEquals(want, w);
  }

  @Test
  void fedAvg_eachSupersededGlobalIsFreedAfterItsDownloadsEnd_directMemoryStaysAtOneModel()
      throws Exception {
    pool.learner("a", addingOne(0)).learner("b", addingOne(0));
    long before = directBytes();

    TrainingResult result = run(FedAvg.withDefaults(), Tracking.off());

    // Every round's model stays referenced (by the recording model), so without the loop's free
    // the direct memory would hold all six (24 MB) plus the ND4J kernel's staging buffers.
    long grown = directBytes() - before;
    assertTrue(grown <= MODEL_BYTES + (1 << 20),
        "direct memory grew by " + grown + " bytes over " + ROUNDS + " rounds of a "
            + MODEL_BYTES + "-byte model: superseded global models were not freed");
    assertEquals(ROUNDS, model.set.size());
    assertEquals(model.set.subList(0, ROUNDS - 1), pool.retired,
        "rounds 1-5's models were retired (downloads ended) before being freed, in order");
    assertSame(model.set.get(ROUNDS - 1), result.finalParameters());
    assertAllEqual(ROUNDS, result.finalParameters());
    assertEquals(0, kernel.results().tracked(),
        "the final parameters belong to the application: no longer tracked, never freed");
  }

  @Test
  void bestRoundKeptForTracking_isNotFreedUntilAnotherRoundIsBetter(@TempDir Path temp)
      throws Exception {
    pool.learner("a", addingOne(3));

    run(FedAvg.withDefaults(), Tracking.fileStore(temp.resolve("mlruns")));

    Parameters best = model.set.get(2);
    assertFalse(pool.retired.contains(best), "round 3's model, the best, was kept");
    assertAllEqual(3, best);
    assertEquals(4, pool.retired.size(), "rounds 1, 2, 4 and 5 were freed");
  }

  @Test
  void modelThatMayKeepParameters_nothingIsFreed_everyRoundsModelStaysReadable()
      throws Exception {
    pool.learner("a", addingOne(0));
    model.keeps = true; // e.g. it hands out what it was given, and an observer keeps that

    run(FedAvg.withDefaults(), Tracking.off());

    assertTrue(pool.retired.isEmpty());
    for (int round = 1; round <= ROUNDS; round++) {
      assertAllEqual(round, model.set.get(round - 1));
    }
    assertEquals(0, kernel.results().tracked());
  }

  @Test
  void centralEvaluationThatKeepsGlobalParameters_nothingIsFreed_keptModelsStayReadable()
      throws Exception {
    // Plain FedAvg, nothing overridden: the lambda keeps every round's model (say, to remember
    // the best one), so the strategy may keep them and none is freed early.
    pool.learner("a", addingOne(0));
    List<Parameters> kept = new ArrayList<>();
    FedAvg fedAvg = FedAvg.builder().centralEvaluation((round, global) -> {
      kept.add(global);
      return new EvaluateResult(1.0, 1, Map.of());
    }).build();

    run(fedAvg, Tracking.off());

    assertTrue(pool.retired.isEmpty());
    for (int round = 1; round <= ROUNDS; round++) {
      assertAllEqual(round, kept.get(round - 1));
    }
  }

  @Test
  void strategyThatKeepsGlobalParameters_nothingIsFreed_keptModelsStayReadable()
      throws Exception {
    pool.learner("a", addingOne(0));
    List<Parameters> kept = new ArrayList<>();
    FedAvg keeping = new FedAvg(FedAvg.builder()) {
      @Override
      public List<Instruction> configureFit(int round, Parameters global, List<String> learners) {
        kept.add(global); // e.g. to compute each round's change later
        return super.configureFit(round, global, learners);
      }
    };
    assertTrue(keeping.keepsGlobalParameters(), "a FedAvg subclass outside flops may keep them");

    run(keeping, Tracking.off());

    assertTrue(pool.retired.isEmpty());
    assertEquals(ROUNDS, kept.size());
    for (int round = 1; round <= ROUNDS; round++) {
      assertAllEqual(round - 1, kept.get(round - 1));
    }
    assertEquals(0, kernel.results().tracked());
  }
}
