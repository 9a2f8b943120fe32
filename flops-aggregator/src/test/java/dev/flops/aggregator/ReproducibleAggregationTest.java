package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.FederationObserver;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code reproducibleAggregation(true)} over real gRPC on loopback: learners whose updates are
 * pure functions of the global parameters ({@link DeterministicTrainer}), made to finish in a
 * different order in each run by per-learner delays, give bit-identical global parameters every
 * round; the native kernel, folding in arrival order, does not.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ReproducibleAggregationTest {
  private static final List<String> NAMES = List.of("a", "b", "c", "d", "e");
  private static final int ROUNDS = 3;
  /** Between two learners' fits: long enough that uploads of 2.5 KB arrive in delay order. */
  private static final long SPACING_MS = 40;

  @Test
  void reproducibleAggregation_givesTheSameBitsEveryRound_whateverTheArrivalOrder()
      throws Exception {
    Parameters initial = Federations.randomParameters(5, false);
    List<List<ByteBuffer>> forward = run(initial, true, NAMES, new Random(1));
    List<List<ByteBuffer>> backward = run(initial, true, reversed(NAMES), new Random(2));

    assertEquals(ROUNDS, forward.size());
    assertEquals(forward, backward, "global parameters per round, as float bits");
  }

  /**
   * The problem the knob solves, where this machine shows it: float32 folding in the reverse
   * order changes some bits. Skipped (not failed) if the native kernel happens to agree.
   */
  @Test
  void nativeKernel_givesOtherBits_whenTheArrivalOrderChanges() throws Exception {
    Parameters initial = Federations.randomParameters(5, false);
    List<List<ByteBuffer>> forward = run(initial, false, NAMES, new Random(1));
    List<List<ByteBuffer>> backward = run(initial, false, reversed(NAMES), new Random(2));

    assertEquals(ROUNDS, backward.size());
    assumeFalse(forward.equals(backward),
        "the native kernel gave the same bits in both orders on this run; nothing to show");
  }

  @Test
  void valueOutsideTheExactRange_failsThatLearnersTask_andNeverReachesTheGlobalModel()
      throws Exception {
    Parameters initial = Federations.randomParameters(6, false);
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .build();
    ArrayModel model = new ArrayModel(initial);
    TrainingResult result;
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(model)
        .reproducibleAggregation(true).build().start()) {
      Federations.startLearner("honest", aggregator.port(),
          new DeterministicTrainer("honest", initial));
      Federations.startLearner("huge", aggregator.port(), hugeValue("huge", initial));
      result = aggregator.train(TrainingPlan.builder().rounds(1).minAvailableLearners(2)
          .tracking(Tracking.off()).build(), strategy);
      aggregator.shutdownLearners();
    }

    RoundSummary round = result.rounds().get(0);
    assertEquals(1, round.fitSucceeded());
    assertEquals(1, round.fitFailed());
    LearnerFailure failure = round.failures().get(0);
    assertEquals(LearnerFailure.Kind.REJECTED, failure.kind());
    assertTrue(failure.reason().contains("dense_b[7] is 6000000.0"), failure.reason());
    assertTrue(failure.reason().contains("|x| < 4194304.0 (2^22)"), failure.reason());
    assertEquals(bits(DeterministicTrainer.expected(initial, List.of(List.of("honest")))),
        bits(result.finalParameters()), "the global model is the honest learner's update alone");
  }

  /**
   * Runs ROUNDS rounds with the learners started in {@code order}; each fit waits its place in
   * the order times {@link #SPACING_MS}, plus up to 10 ms of jitter, so updates arrive in about
   * that order. Returns the global parameters after each round as float bits.
   */
  private static List<List<ByteBuffer>> run(Parameters initial, boolean reproducible,
      List<String> order, Random jitter) throws Exception {
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .build();
    ArrayModel model = new ArrayModel(initial);
    List<List<ByteBuffer>> rounds = new ArrayList<>();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(model)
        .reproducibleAggregation(reproducible).build().start()) {
      for (int place = 0; place < order.size(); place++) {
        long delay = place * SPACING_MS + jitter.nextInt(10);
        Federations.startLearner(order.get(place), aggregator.port(),
            new DeterministicTrainer(order.get(place), initial, new DeterministicTrainer.Hooks() {
              @Override
              public void beforeFit(String name, int round) throws Exception {
                Thread.sleep(delay);
              }
            }));
      }
      TrainingResult result = aggregator.train(TrainingPlan.builder().rounds(ROUNDS)
          .minAvailableLearners(NAMES.size()).tracking(Tracking.off())
          .observer(recorder(model, rounds)).build(), strategy);
      aggregator.shutdownLearners();
      for (RoundSummary round : result.rounds()) {
        assertEquals(NAMES.size(), round.fitSucceeded(), "round " + round.round());
      }
    }
    return rounds;
  }

  private static List<String> reversed(List<String> names) {
    List<String> copy = new ArrayList<>(names);
    java.util.Collections.reverse(copy);
    return copy;
  }

  /** A learner that sends an honest update except for {@code dense_b[7] = 6e6}. */
  static DeterministicTrainer hugeValue(String name, Parameters initial) {
    return new DeterministicTrainer(name, initial) {
      @Override
      public FitResult fit(Config config) throws Exception {
        FitResult honest = super.fit(config);
        float[] values = honest.parameters().get("dense_b").toFloatArray();
        values[7] = 6e6f;
        Parameters sent = Parameters.of(honest.parameters().get("dense_W"),
            Tensor.ofFloats("dense_b", new long[] {20}, values));
        return new FitResult(sent, honest.numExamples(), Map.of());
      }
    };
  }

  /** The data of every tensor: equal lists mean equal bits. */
  static List<ByteBuffer> bits(Parameters parameters) {
    return parameters.tensors().stream().map(Tensor::data).toList();
  }

  /** Records the global parameters after every round. */
  private static FederationObserver recorder(ArrayModel model, List<List<ByteBuffer>> rounds) {
    return new FederationObserver() {
      @Override
      public void onRoundFinished(RoundSummary summary) {
        rounds.add(bits(model.getParameters()));
      }
    };
  }
}
