package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.Bulyan;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FedMedian;
import dev.flops.api.strategy.FedTrimmedAvg;
import dev.flops.api.strategy.Krum;
import dev.flops.api.strategy.MultiKrum;
import dev.flops.api.strategy.Strategy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The robust strategies over real gRPC on loopback: two rounds of each end to end, two
 * sign-flipping learners out of seven, a round that Krum must refuse, and the staged files of a
 * training stopped mid-round. Learners are {@link FakeTrainer}s (arithmetic instead of training)
 * so that each strategy's choice is known in advance; the maths itself is checked against
 * double-precision references in flops-api's {@code RobustStrategiesTest}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RobustAggregationTest {

  /** Learner i adds OFFSETS[i] to every value and reports 10·(i + 1) examples. */
  private static final float[] OFFSETS = {0, 1, 2, 3, 5, 8, 60};

  @TempDir Path staging;

  /**
   * Each strategy with the offset it moves the model by each round, worked out by hand from
   * OFFSETS (scores ∝ squared offset differences; ties, as Bulyan's last picks always have, go to
   * the smaller learner id, which follows the connection order).
   */
  static Stream<Arguments> strategies() {
    return Stream.of(
        Arguments.of("FedMedian", 3.0, (Function<Path, Strategy>) dir ->
            FedMedian.builder().stagingDirectory(dir).build()),
        // beta 0.2 of 7 cuts 1 at each end: mean of 1, 2, 3, 5, 8.
        Arguments.of("FedTrimmedAvg", 3.8, (Function<Path, Strategy>) dir ->
            FedTrimmedAvg.builder().stagingDirectory(dir).build()),
        // f = 1: scores over the 4 nearest; offset 2 scores 1 + 1 + 4 + 9 = 15, the lowest.
        Arguments.of("Krum", 2.0, (Function<Path, Strategy>) dir ->
            Krum.builder().byzantine(1).stagingDirectory(dir).build()),
        // keeps all but 60; weighted by 10, 20, 30, 40, 50, 60: 930 / 210.
        Arguments.of("MultiKrum", 930.0 / 210, (Function<Path, Strategy>) dir ->
            MultiKrum.builder().byzantine(1).stagingDirectory(dir).build()),
        // chooses 2, 3, 1, 0, 5 by repeated Krum; the 3 closest to their median 2: 1, 2, 3.
        Arguments.of("Bulyan", 2.0, (Function<Path, Strategy>) dir ->
            Bulyan.builder().byzantine(1).stagingDirectory(dir).build()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("strategies")
  void twoRoundsOverGrpc_moveTheModelByTheStrategysChoice_andLeaveNoStagedFile(
      String name, double offsetPerRound, Function<Path, Strategy> make) throws Exception {
    Parameters initial = Federations.randomParameters(12, true);
    List<LocalTrainer> trainers = new ArrayList<>();
    for (int i = 0; i < OFFSETS.length; i++) {
      trainers.add(FakeTrainer.adding(initial, OFFSETS[i], 10L * (i + 1)));
    }

    TrainingResult result = federate(make.apply(staging), initial, trainers, 2);

    assertEquals(2, result.rounds().size());
    assertEquals(7, result.finalRound().fitSucceeded());
    assertMaxDeviation(initial, (float) (2 * offsetPerRound), result.finalParameters(), 1e-4);
    assertEquals(List.of(), files(), "every round's staged file is deleted");
  }

  @Test
  void twoSignFlippersOfSeven_dragFedAvgAway_whileMedianAndKrumStayNearTheHonestMean()
      throws Exception {
    Parameters initial = Federations.randomParameters(13, false);
    List<LocalTrainer> trainers = new ArrayList<>();
    double honestSum = 0;
    for (int i = 0; i < 5; i++) {
      float step = 1f + 0.05f * i;
      honestSum += step;
      trainers.add(FakeTrainer.adding(initial, step, 100));
    }
    for (int i = 0; i < 2; i++) {
      // What an honest learner would send, with its change from the global flipped and scaled ×5.
      trainers.add(FakeTrainer.adding(initial, -5f, 100));
    }
    float honestMean = (float) (honestSum / 5);

    Parameters fedAvg = federate(FedAvg.builder().build(), initial, trainers, 1).finalParameters();
    Parameters median = federate(FedMedian.builder().stagingDirectory(staging).build(),
        initial, trainers, 1).finalParameters();
    Parameters krum = federate(Krum.builder().byzantine(2).stagingDirectory(staging).build(),
        initial, trainers, 1).finalParameters();

    double fedAvgOff = maxDeviation(initial, honestMean, fedAvg);
    assertTrue(fedAvgOff > 1.5, "FedAvg moves (5.5 - 10) / 7 instead of 1.1: " + fedAvgOff);
    assertTrue(maxDeviation(initial, honestMean, median) <= 0.05 + 1e-5, "median");
    assertTrue(maxDeviation(initial, honestMean, krum) <= 0.1 + 1e-5, "krum");
    assertEquals(List.of(), files());
  }

  @Test
  void krumRoundWithTooFewUpdates_keepsTheGlobal_logsWhy_andTrainingGoesOn() throws Exception {
    Parameters initial = Federations.randomParameters(14, false);
    List<LocalTrainer> trainers = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      trainers.add(FakeTrainer.adding(initial, i, 10));
    }
    Krum krum = Krum.builder().byzantine(2).stagingDirectory(staging).build();

    try (LogCapture log = new LogCapture()) {
      TrainingResult result = federate(krum, initial, trainers, 2);

      assertEquals(2, result.rounds().size(), "both rounds ran");
      assertEquals(5, result.finalRound().fitSucceeded());
      assertEquals(initial, result.finalParameters(), "the global parameters stay, bit for bit");
      String text = log.text();
      assertTrue(text.contains("round 2: the strategy " + krum + " could not aggregate the 5 "
          + "accepted updates: Krum cannot combine this round: it has n = 5 updates, and with "
          + "byzantine f = 2 Krum needs n > 2f + 2 = 6"), text);
      assertTrue(text.contains("the global parameters stay as they were"), text);
    }
    assertEquals(List.of(), files(), "the refused rounds' staged files are deleted too");
  }

  @Test
  void trainingStoppedMidRound_deletesTheStagedFile() throws Exception {
    Parameters initial = Federations.randomParameters(15, true);
    CountDownLatch release = new CountDownLatch(1);
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      Federations.startLearner("fast-1", aggregator.port(), FakeTrainer.adding(initial, 1f, 10));
      Federations.startLearner("fast-2", aggregator.port(), FakeTrainer.adding(initial, 2f, 10));
      Federations.startLearner("stuck", aggregator.port(), new StuckFit(initial, release));
      TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(3)
          .minFitResults(3).tracking(Tracking.off()).build();
      CompletableFuture<Throwable> ended = new CompletableFuture<>();
      Thread training = new Thread(() -> {
        try {
          aggregator.train(plan, Krum.builder().stagingDirectory(staging).build());
          ended.complete(null);
        } catch (Throwable e) {
          ended.complete(e);
        }
      }, "training");
      training.start();
      long twoUpdates = 2 * initial.byteSize();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (files().size() != 1 || Files.size(files().get(0)) < twoUpdates) {
        assertTrue(System.nanoTime() < deadline, "two updates staged: " + files());
        Thread.sleep(20);
      }

      training.interrupt();  // as a stop of the application would, while the round waits

      assertTrue(ended.get(30, TimeUnit.SECONDS) instanceof InterruptedException,
          "the training ends interrupted");
      assertEquals(List.of(), files(), "deleted when the training ends mid-round");
    } finally {
      release.countDown();
    }
  }

  /** A learner whose fit waits until the test ends. */
  private static final class StuckFit implements LocalTrainer {
    private final FakeTrainer inner;
    private final CountDownLatch release;

    StuckFit(Parameters initial, CountDownLatch release) {
      this.inner = FakeTrainer.adding(initial, 3f, 10);
      this.release = release;
    }

    @Override
    public FederatedModel model() {
      return inner.model();
    }

    @Override
    public FitResult fit(Config config) throws Exception {
      release.await(60, TimeUnit.SECONDS);
      return inner.fit(config);
    }

    @Override
    public EvaluateResult evaluate(Config config) {
      return inner.evaluate(config);
    }
  }

  /**
   * Runs a federation of these learners on loopback; learner i connects i-th, so its id
   * ({@code learner-<i+1>}) orders as its index.
   */
  private static TrainingResult federate(Strategy strategy, Parameters initial,
      List<LocalTrainer> trainers, int rounds) throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(rounds)
        .minAvailableLearners(trainers.size()).minFitResults(trainers.size())
        .tracking(Tracking.off()).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      for (int i = 0; i < trainers.size(); i++) {
        Federations.startLearner("site-" + i, aggregator.port(), trainers.get(i));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (aggregator.connectedLearners().size() < i + 1) {
          assertTrue(System.nanoTime() < deadline, "learner " + i + " connects");
          Thread.sleep(5);
        }
      }
      return aggregator.train(plan, strategy);
    }
  }

  private static double maxDeviation(Parameters initial, float offset, Parameters actual) {
    double worst = 0;
    for (Tensor tensor : initial) {
      float[] start = tensor.toFloatArray();
      float[] end = actual.get(tensor.name()).toFloatArray();
      for (int k = 0; k < start.length; k++) {
        worst = Math.max(worst, Math.abs((double) end[k] - start[k] - offset));
      }
    }
    return worst;
  }

  private static void assertMaxDeviation(Parameters initial, float offset, Parameters actual,
      double tolerance) {
    double worst = maxDeviation(initial, offset, actual);
    assertTrue(worst <= tolerance, "moved by " + offset + " within " + tolerance + ": " + worst);
  }

  private List<Path> files() throws IOException {
    try (Stream<Path> listing = Files.list(staging)) {
      return listing.toList();
    }
  }
}
