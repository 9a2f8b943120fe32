package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.LearnerFailure;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.InlineParameters;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A two-round federation over real gRPC on loopback in which a test plays a hostile learner.
 *
 * <p>Three learners take part: {@code hostile} and {@code held} are driven by hand over the
 * generated stubs ({@link RawLearner}); the third is a real {@code Learner}. Round 1 stays open
 * while the test sends its hostile input, because {@code held} keeps its update until
 * {@link #finish} sends it. {@link #finish} then checks that round 1 aggregated exactly the
 * legitimate updates (no partial fold of anything refused) and that round 2 ran normally with every
 * learner.
 *
 * <p>Every learner adds its offset to the global parameters, so the expected model is exact:
 * hostile +1 with 10 examples, held +2 with 20, the real learner +4 with 30.
 */
final class HostileFederation implements AutoCloseable {
  static final float HOSTILE_OFFSET = 1f;
  static final long HOSTILE_EXAMPLES = 10;
  static final float HELD_OFFSET = 2f;
  static final long HELD_EXAMPLES = 20;
  static final float REAL_OFFSET = 4f;
  static final long REAL_EXAMPLES = 30;

  /** Whether the hostile learner's own update is part of round 1. */
  enum RoundOne {
    /** The hostile input cost the learner its task: round 1 averages the other two only. */
    HOSTILE_TASK_FAILED,
    /** The hostile input was refused without harming the task; finish() then uploads correctly. */
    HOSTILE_UPLOADS_CORRECTLY,
    /** The test already uploaded the hostile learner's correct update itself. */
    HOSTILE_ALREADY_UPLOADED
  }

  final Parameters initial = Federations.randomParameters(7, false);
  final ArrayModel copy = new ArrayModel(initial);
  final Aggregator aggregator;
  final CompletableFuture<TrainingResult> training;
  final RawLearner hostile;
  final RawLearner held;
  final CompletableFuture<Void> real;
  final RawLearner.Assigned hostileTask;
  final RawLearner.Assigned heldTask;
  private final List<RawLearner> lateJoiners = new ArrayList<>();
  private final List<CompletableFuture<Void>> served = new ArrayList<>();
  private Parameters hostileUpdate;
  private boolean heldReleased;
  private boolean hostileServing;

  private HostileFederation(UnaryOperator<Aggregator.Builder> knobs) throws Exception {
    this(knobs, 0);
  }

  /**
   * @param hostileInlineBytes what the hostile learner's Hello offers to send and take inline;
   *     0: nothing, as a learner built before inline transfers
   */
  private HostileFederation(UnaryOperator<Aggregator.Builder> knobs, long hostileInlineBytes)
      throws Exception {
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(3).build();
    FedAvg strategy = FedAvg.builder().build();
    aggregator = knobs.apply(Aggregator.builder()
            .host("127.0.0.1").port(0)
            .model(copy))
        .build()
        .start();
    training = CompletableFuture.supplyAsync(() -> {
      try {
        return aggregator.train(plan, strategy);
      } catch (InterruptedException e) {
        throw new CompletionException(e);
      }
    });
    hostile = RawLearner.joinOfferingInline(aggregator.port(), "hostile", HOSTILE_OFFSET,
        HOSTILE_EXAMPLES, hostileInlineBytes);
    held = RawLearner.join(aggregator.port(), "held", HELD_OFFSET, HELD_EXAMPLES);
    real = Federations.startLearner("real", aggregator.port(),
        FakeTrainer.adding(initial, REAL_OFFSET, REAL_EXAMPLES));
    hostileTask = hostile.nextTask();
    heldTask = held.nextTask();
  }

  /** Starts the federation and waits until round 1 has given every learner its fit task. */
  static HostileFederation start() throws Exception {
    return new HostileFederation(builder -> builder);
  }

  /** Like {@link #start()}, with extra aggregator knobs. */
  static HostileFederation start(UnaryOperator<Aggregator.Builder> knobs) throws Exception {
    return new HostileFederation(knobs);
  }

  /** Like {@link #start(UnaryOperator)}, the hostile learner offering inline transfers. */
  static HostileFederation startOfferingInline(UnaryOperator<Aggregator.Builder> knobs)
      throws Exception {
    return new HostileFederation(knobs, InlineParameters.MAX_INLINE_BYTES);
  }

  int port() {
    return aggregator.port();
  }

  /** The hostile learner's correct update of round 1 (downloaded once). */
  Parameters hostileUpdate() {
    if (hostileUpdate == null) {
      hostileUpdate = hostile.fit(hostile.download(hostileTask));
    }
    return hostileUpdate;
  }

  /**
   * Joins a learner while round 1 is running, so that it has no task in round 1; it takes part
   * in round 2 correctly.
   */
  RawLearner joinLate(String name, float offset, long examples) throws Exception {
    RawLearner late = RawLearner.join(aggregator.port(), name, offset, examples);
    lateJoiners.add(late);
    return late;
  }

  /** Sends the held learner's round 1 update and lets it serve every later task. */
  void releaseHeld() throws Exception {
    if (!heldReleased) {
      heldReleased = true;
      held.fitCorrectly(heldTask);
      served.add(held.serveTheRest());
    }
  }

  /** Lets the hostile learner serve every further task correctly. */
  void hostileServesTheRest() {
    if (!hostileServing) {
      hostileServing = true;
      served.add(hostile.serveTheRest());
    }
  }

  /**
   * Ends round 1 with the legitimate updates, lets round 2 run with every learner, and checks that
   * the global model is exactly the average of the updates that were legitimately accepted.
   *
   * @return the training result, for further checks
   */
  TrainingResult finish(RoundOne roundOne) throws Exception {
    if (roundOne == RoundOne.HOSTILE_UPLOADS_CORRECTLY) {
      hostile.fitCorrectly(hostileTask);
    }
    releaseHeld();
    hostileServesTheRest();
    lateJoiners.forEach(late -> served.add(late.serveTheRest()));

    TrainingResult result = training.get(60, TimeUnit.SECONDS);
    aggregator.shutdownLearners();

    boolean hostileCounted = roundOne != RoundOne.HOSTILE_TASK_FAILED;
    RoundSummary first = result.rounds().get(0);
    assertEquals(hostileCounted ? 3 : 2, first.fitSucceeded(), "round 1 fit successes");
    assertEquals(hostileCounted ? 0 : 1, first.fitFailed(), "round 1 fit failures");
    if (!hostileCounted) {
      LearnerFailure failure = first.failures().get(0);
      assertEquals(hostile.id(), failure.learnerId());
    }
    RoundSummary second = result.rounds().get(1);
    int everyone = 3 + lateJoiners.size();
    assertEquals(everyone, second.fitSucceeded(), "round 2 runs with every learner");
    assertEquals(0, second.fitFailed());
    assertEquals(everyone, second.evaluateSucceeded());

    float roundOneMean = hostileCounted
        ? mean(HOSTILE_OFFSET, HOSTILE_EXAMPLES, HELD_OFFSET, HELD_EXAMPLES, REAL_OFFSET, REAL_EXAMPLES)
        : mean(HELD_OFFSET, HELD_EXAMPLES, REAL_OFFSET, REAL_EXAMPLES);
    float roundTwoMean = roundTwoMean();
    Parameters expected = FakeTrainer.add(FakeTrainer.add(initial, roundOneMean), roundTwoMean);
    AggregatorTest.assertClose(expected, result.finalParameters(), 1e-4);
    assertEquals(result.finalParameters(), copy.getParameters());

    for (CompletableFuture<Void> learner : served) {
      learner.get(10, TimeUnit.SECONDS);
    }
    real.get(10, TimeUnit.SECONDS);
    return result;
  }

  /** The round 1 failure of the hostile learner's task. */
  static String roundOneFailure(TrainingResult result) {
    List<LearnerFailure> failures = result.rounds().get(0).failures();
    assertTrue(failures.size() == 1, failures::toString);
    return failures.get(0).reason();
  }

  private float roundTwoMean() {
    double weighted = HOSTILE_OFFSET * HOSTILE_EXAMPLES + HELD_OFFSET * HELD_EXAMPLES
        + REAL_OFFSET * REAL_EXAMPLES;
    double examples = HOSTILE_EXAMPLES + HELD_EXAMPLES + REAL_EXAMPLES;
    for (RawLearner late : lateJoiners) {
      weighted += late.offset() * late.examples();
      examples += late.examples();
    }
    return (float) (weighted / examples);
  }

  private static float mean(double... offsetsAndExamples) {
    double weighted = 0;
    double examples = 0;
    for (int i = 0; i < offsetsAndExamples.length; i += 2) {
      weighted += offsetsAndExamples[i] * offsetsAndExamples[i + 1];
      examples += offsetsAndExamples[i + 1];
    }
    return (float) (weighted / examples);
  }

  @Override
  public void close() throws Exception {
    aggregator.close();
    hostile.close();
    held.close();
    for (RawLearner late : lateJoiners) {
      late.close();
    }
  }
}
