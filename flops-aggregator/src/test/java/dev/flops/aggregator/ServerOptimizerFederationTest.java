package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.OptimizerReference;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAdagrad;
import dev.flops.api.strategy.FedAdam;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FedAvgM;
import dev.flops.api.strategy.FedProx;
import dev.flops.api.strategy.FedYogi;
import dev.flops.api.strategy.Strategy;
import dev.flops.api.strategy.StrategyState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * FedAvgM, FedAdagrad, FedAdam, FedYogi and FedProx over real gRPC on loopback with two learners,
 * and a resume in the middle of a server optimizer that continues bit for bit.
 *
 * <p>The learners add a constant to what they receive (+0.5 with 16 examples, -0.25 with 64), so
 * every round's weighted mean is the global model minus 0.1 and the optimizers' maths is easy to
 * follow with {@link OptimizerReference}. The example counts are powers of two: each weighted
 * product is exact in float32, so the sum does not depend on which update arrives first.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerOptimizerFederationTest {

  private static final int[] EXAMPLES = {16, 64};
  private static final float[] OFFSETS = {0.5f, -0.25f};
  private static final double MEAN_OFFSET = -0.1;

  static Stream<Named<Supplier<Strategy>>> strategies() {
    return Stream.of(
        named("FedAvgM", () -> FedAvgM.builder().build()),
        named("FedAdagrad", () -> FedAdagrad.builder().build()),
        named("FedAdam", () -> FedAdam.builder().build()),
        named("FedYogi", () -> FedYogi.builder().build()),
        named("FedProx", () -> FedProx.builder().proximalMu(0.01).build()));
  }

  private static Named<Supplier<Strategy>> named(String name, Supplier<Strategy> strategy) {
    return Named.of(name, strategy);
  }

  private static TrainingPlan.Builder plan(int rounds) {
    return TrainingPlan.builder().rounds(rounds).minAvailableLearners(2).minFitResults(2)
        .tracking(Tracking.off());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("strategies")
  void twoRoundsOverGrpc_stepAsTheReference_andFedProxSendsProximalMu(Supplier<Strategy> make)
      throws Exception {
    Strategy strategy = make.get();
    Parameters initial = Federations.randomParameters(5, false);
    List<RecordingTrainer> trainers = new ArrayList<>();

    TrainingResult result;
    try (Aggregator aggregator = started(initial, trainers)) {
      result = aggregator.train(plan(2).build(), strategy);
    }

    assertEquals(2, result.rounds().size());
    double[] expected = OptimizerReference.flat(initial);
    if (strategy instanceof FedProx) {
      for (int i = 0; i < expected.length; i++) {
        expected[i] += 2 * MEAN_OFFSET; // FedAvg on the aggregator
      }
      for (RecordingTrainer trainer : trainers) {
        assertEquals(List.of(0.01, 0.01), trainer.proximalMus,
            "every fit task carried proximal_mu");
      }
    } else {
      OptimizerReference reference = new OptimizerReference(strategy, expected);
      for (int round = 0; round < 2; round++) {
        double[] mean = reference.x();
        for (int i = 0; i < mean.length; i++) {
          mean[i] += MEAN_OFFSET;
        }
        reference.step(mean);
      }
      expected = reference.x();
      assertTrue(trainers.stream().allMatch(t -> t.proximalMus.equals(Arrays.asList(null, null))),
          "only FedProx sends proximal_mu");
    }
    double[] actual = OptimizerReference.flat(result.finalParameters());
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])),
          strategy + " element " + i);
    }
  }

  /**
   * Two rounds, a checkpoint, a fresh strategy resumed from it for rounds 3 and 4, against four
   * rounds without interruption: the global model and the optimizer's tensors bit for bit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("resumable")
  void resumeInTheMiddle_equalsTheUninterruptedRun_bitForBit(Supplier<Strategy> make,
      @TempDir Path dir) throws Exception {
    Parameters initial = Federations.randomParameters(11, false);
    Strategy uninterrupted = make.get();
    Parameters straight;
    try (Aggregator aggregator = started(initial, new ArrayList<>())) {
      straight = aggregator.train(plan(4).build(), uninterrupted).finalParameters();
    }

    Strategy resumed = make.get();
    TrainingResult result;
    try (Aggregator aggregator = started(initial, new ArrayList<>())) {
      aggregator.train(plan(2).checkpointDirectory(dir).build(), make.get());
      result = aggregator.train(plan(4).checkpointDirectory(dir).resume(true).build(), resumed);
    }

    assertEquals(4, result.rounds().size(), "the checkpoint's 2 rounds, then rounds 3 and 4");
    assertBitIdentical(straight, result.finalParameters(), "global");
    StrategyState expected = uninterrupted.saveState();
    StrategyState actual = resumed.saveState();
    assertTrue(expected.tensors().size() > 0, "the optimizer keeps tensors");
    assertBitIdentical(expected.tensors(), actual.tensors(), "optimizer state");
    assertEquals(expected.values(), actual.values());
  }

  static Stream<Named<Supplier<Strategy>>> resumable() {
    return Stream.of(
        named("FedAvgM", () -> FedAvgM.builder().base(FedAvg.builder().samplingSeed(3)).build()),
        named("FedAdam", () -> FedAdam.builder().serverLearningRate(0.05)
            .base(FedAvg.builder().samplingSeed(3)).build()));
  }

  private static void assertBitIdentical(Parameters expected, Parameters actual, String what) {
    assertEquals(expected.names(), actual.names(), what);
    for (Tensor tensor : expected) {
      assertArrayEquals(tensor.toFloatArray(), actual.get(tensor.name()).toFloatArray(),
          what + " " + tensor.name());
    }
  }

  /** A server with two learners that add a constant, recording the fit configs they get. */
  private static Aggregator started(Parameters initial, List<RecordingTrainer> trainers)
      throws Exception {
    Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start();
    for (int i = 0; i < EXAMPLES.length; i++) {
      RecordingTrainer trainer =
          new RecordingTrainer(FakeTrainer.adding(initial, OFFSETS[i], EXAMPLES[i]));
      trainers.add(trainer);
      Federations.startLearner("learner-" + i, aggregator.port(), trainer);
    }
    return aggregator;
  }

  /** Records the proximal_mu of every fit config (null when absent), then fits as the fake does. */
  private static final class RecordingTrainer implements LocalTrainer {
    private final FakeTrainer delegate;
    final List<Double> proximalMus = new CopyOnWriteArrayList<>();

    RecordingTrainer(FakeTrainer delegate) {
      this.delegate = delegate;
    }

    @Override
    public FederatedModel model() {
      return delegate.model();
    }

    @Override
    public FitResult fit(Config config) {
      proximalMus.add(config.contains(FedProx.PROXIMAL_MU)
          ? config.getDouble(FedProx.PROXIMAL_MU, 0) : null);
      return delegate.fit(config);
    }

    @Override
    public EvaluateResult evaluate(Config config) {
      return delegate.evaluate(config);
    }
  }
}
