package dev.flops.api.strategy;

import static dev.flops.api.strategy.RobustUpdates.accept;
import static dev.flops.api.strategy.RobustUpdates.combine;
import static dev.flops.api.strategy.RobustUpdates.flat;
import static dev.flops.api.strategy.RobustUpdates.round;
import static dev.flops.api.strategy.RobustUpdates.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.DType;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.RobustUpdates.Update;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The robust strategies against double-precision references on random models (several learners
 * with unequal example counts, several tensors, one larger than a staging block), their edge cases
 * and refusals, their independence of arrival order, and their staged files' lifetime.
 */
class RobustStrategiesTest {

  @TempDir Path staging;

  private final Parameters global = RobustUpdates.model(new Random(1), 0f, 1f);

  @Test
  void fedMedian_isTheCoordinateWiseMedian_forOddAndEvenCounts() {
    FedMedian median = FedMedian.builder().stagingDirectory(staging).build();
    for (int n : new int[] {7, 6}) {
      List<Update> updates = round(10 + n, n, 2);
      assertClose(RobustUpdates.referenceMedian(values(updates)),
          combine(median, global, updates), 0);
    }
  }

  @Test
  void fedTrimmedAvg_cutsFloorBetaNAtEachEnd_andAveragesTheRest() {
    for (double beta : new double[] {0.2, 0.3, 0.0}) {
      FedTrimmedAvg trimmed =
          FedTrimmedAvg.builder().beta(beta).stagingDirectory(staging).build();
      List<Update> updates = round(20, 10, 3);
      assertClose(RobustUpdates.referenceTrimmedMean(values(updates), beta),
          combine(trimmed, global, updates), 1e-6);
    }
  }

  @Test
  void krum_picksTheUpdateWithTheLowestScore_bitForBit() {
    List<Update> updates = round(30, 7, 2);
    float[][] x = values(updates);
    int expected = RobustUpdates.rankedByKrum(RobustUpdates.squaredDistances(x),
        List.of(0, 1, 2, 3, 4, 5, 6), 7 - 2 - 2, updates).get(0);

    Parameters chosen = combine(
        Krum.builder().byzantine(2).stagingDirectory(staging).build(), global, updates);

    assertTrue(expected < 5, "an honest update wins");
    assertEquals(updates.get(expected).parameters(), chosen, "the chosen update, bit for bit");
  }

  @Test
  void krumTie_goesToTheSmallerLearnerId_whateverTheArrivalOrder() {
    // Offsets 0, 2 and 5 with f = 0: each score is the distance to the one nearest other update;
    // 0 and 2 both score d(0, 2), an exact tie, and 5 scores more.
    Update zero = new Update("learner-b", 10, offset(0f));
    Update two = new Update("learner-a", 20, offset(2f));
    Update five = new Update("learner-c", 30, offset(5f));
    for (Strategy strategy : List.of(Krum.builder().stagingDirectory(staging).build(),
        MultiKrum.builder().keep(1).stagingDirectory(staging).build())) {
      assertEquals(two.parameters(), combine(strategy, global, List.of(zero, two, five)));
      assertEquals(two.parameters(), combine(strategy, global, List.of(five, two, zero)));
    }
  }

  private Parameters offset(float offset) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : global) {
      float[] values = tensor.toFloatArray();
      for (int k = 0; k < values.length; k++) {
        values[k] += offset;
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  @Test
  void multiKrum_isTheExampleWeightedMeanOfTheMBestScored() {
    List<Update> updates = round(40, 7, 2);
    float[][] x = values(updates);
    List<Integer> ranked = RobustUpdates.rankedByKrum(RobustUpdates.squaredDistances(x),
        List.of(0, 1, 2, 3, 4, 5, 6), 7 - 2 - 2, updates);
    for (int keep : new int[] {0, 3}) {
      MultiKrum.Builder builder = MultiKrum.builder().byzantine(2).stagingDirectory(staging);
      int m = keep == 0 ? 7 - 2 : keep;
      if (keep > 0) {
        builder.keep(keep);
      }
      assertClose(RobustUpdates.referenceWeightedMean(x, ranked.subList(0, m), updates),
          combine(builder.build(), global, updates), 1e-6);
    }
  }

  @Test
  void multiKrumKeepingOne_isKrum() {
    List<Update> updates = round(45, 7, 2);
    assertEquals(
        combine(Krum.builder().byzantine(2).stagingDirectory(staging).build(), global, updates),
        combine(MultiKrum.builder().byzantine(2).keep(1).stagingDirectory(staging).build(),
            global, updates));
  }

  @Test
  void bulyan_isTheMeanOfTheBetaValuesClosestToTheMedianOfTheThetaKrumChoices() {
    for (int f : new int[] {1, 2}) {
      int n = 4 * f + 3;
      List<Update> updates = round(50 + f, n, f);
      assertClose(RobustUpdates.referenceBulyan(values(updates), f, updates),
          combine(Bulyan.builder().byzantine(f).stagingDirectory(staging).build(), global,
              updates), 1e-6);
    }
  }

  @Test
  void bulyanWithoutByzantine_isTheUnweightedMean() {
    List<Update> updates = round(55, 3, 0);
    assertClose(RobustUpdates.referenceTrimmedMean(values(updates), 0),
        combine(Bulyan.builder().stagingDirectory(staging).build(), global, updates), 1e-6);
  }

  @Test
  void krumFamily_refusesRoundsWithTooFewUpdates_namingNFAndTheFix() {
    List<Update> six = round(60, 6, 0);
    IllegalStateException krum = assertThrows(IllegalStateException.class, () -> combine(
        Krum.builder().byzantine(2).stagingDirectory(staging).build(), global, six));
    assertEquals("Krum cannot combine this round: it has n = 6 updates, and with byzantine f = 2 "
        + "Krum needs n > 2f + 2 = 6 (Blanchard et al. 2017). Sample at least 7 learners a round "
        + "(minFitLearners and the plan's minFitResults), or lower byzantine to at most 1",
        krum.getMessage());
    IllegalStateException multiKrum = assertThrows(IllegalStateException.class, () -> combine(
        MultiKrum.builder().byzantine(2).stagingDirectory(staging).build(), global, six));
    assertTrue(multiKrum.getMessage().startsWith("MultiKrum cannot combine this round: it has "
        + "n = 6 updates"), multiKrum.getMessage());
    IllegalStateException keep = assertThrows(IllegalStateException.class, () -> combine(
        MultiKrum.builder().keep(7).stagingDirectory(staging).build(), global, six));
    assertTrue(keep.getMessage().contains("keep m = 7 but only n = 6 updates arrived"),
        keep.getMessage());
    IllegalStateException bulyan = assertThrows(IllegalStateException.class, () -> combine(
        Bulyan.builder().byzantine(1).stagingDirectory(staging).build(), global, six));
    assertEquals("Bulyan cannot combine this round: it has n = 6 updates, and with byzantine "
        + "f = 1 it needs n >= 4f + 3 = 7 (El Mhamdi et al. 2018). Sample at least 7 learners a "
        + "round (minFitLearners and the plan's minFitResults), or lower byzantine to at most 0",
        bulyan.getMessage());
    // The smallest rounds the papers allow are combined.
    combine(Krum.builder().stagingDirectory(staging).build(), global, round(61, 3, 0));
    combine(Bulyan.builder().byzantine(1).stagingDirectory(staging).build(), global,
        round(62, 7, 1));
  }

  @Test
  void noUpdates_keepTheGlobal_andTheCombinerRefusesThem() throws IOException {
    for (Strategy strategy : strategies(staging)) {
      AggregationResult result =
          strategy.beginFitAggregation(1, global, null).finish(List.of());
      assertTrue(result.parameters().isEmpty(), strategy + " keeps the global parameters");
      assertEquals(List.of(), files(), "no file without an update");
    }
    try (StagedCombiner combiner = StagedCombiner.create("Krum", staging, 1, global, true,
        (staged, distances) -> global)) {
      IllegalStateException refused =
          assertThrows(IllegalStateException.class, combiner::combine);
      assertEquals("Krum cannot combine a round without updates", refused.getMessage());
    }
  }

  @Test
  void trimmedMeanLeavingNothing_refused() {
    IllegalArgumentException knob = assertThrows(IllegalArgumentException.class,
        () -> FedTrimmedAvg.builder().beta(0.5));
    assertEquals("beta (the fraction cut at each end) must be in [0, 0.5) but was 0.5; 0.5 or more "
        + "cuts every value", knob.getMessage());
    IllegalStateException round = assertThrows(IllegalStateException.class,
        () -> RobustRules.requireSomethingLeft(0.5, 4));
    assertEquals("FedTrimmedAvg cannot combine this round: with n = 4 updates and beta = 0.5 it "
        + "cuts floor(beta·n) = 2 at each end, which leaves nothing (the rule needs "
        + "2·floor(beta·n) < n). Lower beta below 0.5 or sample more learners", round.getMessage());
    RobustRules.requireSomethingLeft(0.49, 4);
  }

  @Test
  void builders_refuseBadKnobsAtOnce() throws IOException {
    Path file = Files.createFile(staging.resolve("a-file"));
    assertEquals("byzantine (the number of Byzantine learners f) must be at least 0 but was -1",
        assertThrows(IllegalArgumentException.class,
            () -> Krum.builder().byzantine(-1)).getMessage());
    assertThrows(IllegalArgumentException.class, () -> Bulyan.builder().byzantine(-1));
    assertThrows(IllegalArgumentException.class, () -> MultiKrum.builder().byzantine(-2));
    assertThrows(IllegalArgumentException.class, () -> MultiKrum.builder().keep(0));
    assertThrows(IllegalArgumentException.class, () -> FedTrimmedAvg.builder().beta(-0.1));
    assertThrows(IllegalArgumentException.class, () -> FedTrimmedAvg.builder().beta(Double.NaN));
    IllegalArgumentException notDirectory = assertThrows(IllegalArgumentException.class,
        () -> FedMedian.builder().stagingDirectory(file));
    assertTrue(notDirectory.getMessage().contains(file + " exists and is not a directory"),
        notDirectory.getMessage());
    assertThrows(NullPointerException.class, () -> Krum.builder().base(null));
    assertThrows(NullPointerException.class, () -> Krum.builder().stagingDirectory(null));
  }

  @Test
  void baseBuilder_carriesFedAvgsSettings_andKnobsNameTheRobustOnes() {
    Krum krum = Krum.builder().byzantine(1).stagingDirectory(staging)
        .base(FedAvg.builder().fractionFit(0.5).minFitLearners(3)).build();
    assertEquals(0.5, krum.knobs().get("fraction_fit"));
    assertEquals(3, krum.knobs().get("min_fit_learners"));
    assertEquals(1, krum.knobs().get("byzantine"));
    assertEquals(staging.toString(), krum.knobs().get("staging_directory"));
    assertEquals(3, krum.configureFit(1, global, List.of("a", "b", "c", "d", "e")).size());
    assertEquals(0.1, FedTrimmedAvg.builder().beta(0.1).build().knobs().get("beta"));
    assertEquals(2, MultiKrum.builder().keep(2).build().knobs().get("keep"));
  }

  static Stream<Arguments> everyStrategy() {
    return Stream.of(
        Arguments.of("FedMedian", (Function<Path, Strategy>) dir ->
            FedMedian.builder().stagingDirectory(dir).build()),
        Arguments.of("FedTrimmedAvg", (Function<Path, Strategy>) dir ->
            FedTrimmedAvg.builder().beta(0.3).stagingDirectory(dir).build()),
        Arguments.of("Krum", (Function<Path, Strategy>) dir ->
            Krum.builder().byzantine(2).stagingDirectory(dir).build()),
        Arguments.of("MultiKrum", (Function<Path, Strategy>) dir ->
            MultiKrum.builder().byzantine(1).stagingDirectory(dir).build()),
        Arguments.of("Bulyan", (Function<Path, Strategy>) dir ->
            Bulyan.builder().byzantine(1).stagingDirectory(dir).build()));
  }

  private static List<Strategy> strategies(Path dir) {
    return everyStrategy().map(a -> ((Function<Path, Strategy>) a.get()[1]).apply(dir)).toList();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("everyStrategy")
  void shuffledArrival_givesBitIdenticalResults(String name, Function<Path, Strategy> make) {
    Strategy strategy = make.apply(staging);
    // Ties on purpose: two learners send the same update, so Krum's choice between them and
    // the sums' order must come from the learner ids, not from who came first.
    List<Update> updates = new ArrayList<>(round(70, 8, 2));
    updates.add(new Update("learner-0", 17, updates.get(0).parameters()));
    Parameters first = combine(strategy, global, updates);
    Random random = new Random(71);
    for (int shuffle = 0; shuffle < 4; shuffle++) {
      Collections.shuffle(updates, random);
      assertEquals(first, combine(strategy, global, updates), name + " after shuffle " + shuffle);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("everyStrategy")
  void stagedFile_holdsTheRoundsUpdatesOnDisk_andIsGoneWhenTheRoundEnds(
      String name, Function<Path, Strategy> make) throws IOException {
    Strategy strategy = make.apply(staging);
    List<Update> updates = round(80, 7, 1);
    FitAggregation aggregation = strategy.beginFitAggregation(1, global, null);
    for (Update update : updates) {
      accept(aggregation, update);
    }
    List<Path> files = files();
    assertEquals(1, files.size(), "one file for the round's attempt: " + files);
    assertEquals(7 * global.byteSize(), Files.size(files.get(0)), "n × P × 4 bytes");

    AggregationResult result = aggregation.finish(List.of());

    assertTrue(result.parameters().isPresent());
    assertEquals(List.of(), files(), "deleted once the round's aggregation finished");
  }

  @Test
  void stagedFile_isGone_afterADiscardedAttempt_andAfterARefusedRound() throws IOException {
    for (Strategy strategy : strategies(staging)) {
      FitAggregation discarded = strategy.beginFitAggregation(1, global, null);
      for (Update update : round(90, 3, 0)) {
        accept(discarded, update);
      }
      assertEquals(1, files().size());
      discarded.discard();
      assertEquals(List.of(), files(), strategy + ": deleted when the attempt is discarded");
    }
    FitAggregation refused =
        Krum.builder().byzantine(3).stagingDirectory(staging).build()
            .beginFitAggregation(1, global, null);
    for (Update update : round(91, 4, 0)) {
      accept(refused, update);
    }
    assertThrows(IllegalStateException.class, () -> refused.finish(List.of()));
    assertEquals(List.of(), files(), "deleted when the round cannot be combined");
  }

  @Test
  void memory_isOneBlockPerUpdate_whileTheWholeRoundIsOnDisk() throws IOException {
    int blocks = 4;
    Random random = new Random(95);
    Parameters large = Parameters.of(Tensor.ofFloats("w",
        RobustUpdates.gaussian(random, blocks * UpdateStaging.DEFAULT_BLOCK_VALUES, 0f, 1f)));
    int n = 7;
    try (UpdateStaging staged = new UpdateStaging(staging, "memory-", large,
        UpdateStaging.DEFAULT_BLOCK_VALUES)) {
      StagedCombiner combiner = new StagedCombiner("Krum", staged, true,
          (s, distances) -> s.combine(RobustRules.all(s.count()), RobustRules::median));
      for (int i = 0; i < n; i++) {
        Parameters update = Parameters.of(Tensor.ofFloats("w",
            RobustUpdates.gaussian(random, blocks * UpdateStaging.DEFAULT_BLOCK_VALUES, 0f, 1f)));
        RobustUpdates.add(combiner, new Update("learner-" + i, 1, update));
        assertEquals(i == 0 ? 0 : UpdateStaging.DEFAULT_BLOCK_VALUES * 4L,
            staged.blockBufferBytes(), "one block while distances are computed on arrival");
      }
      combiner.combine();

      long modelBytes = large.byteSize();
      assertEquals(n * modelBytes, Files.size(staged.file()), "the round is on disk");
      assertEquals(n * UpdateStaging.DEFAULT_BLOCK_VALUES * 4L, staged.blockBufferBytes(),
          "memory: one block of each combined update, a quarter of one model here, whatever P is");
    }
  }

  @Test
  void refusedUpdate_leavesTheCombinationAsIfNeverOffered() {
    Krum krum = Krum.builder().byzantine(1).stagingDirectory(staging).build();
    List<Update> updates = round(100, 5, 1);
    Parameters expected = combine(krum, global, updates);
    FitAggregation aggregation = krum.beginFitAggregation(1, global, null);
    accept(aggregation, updates.get(0));
    Parameters wrongShape = Parameters.of(Tensor.ofFloats("big", 1f, 2f));
    IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
        () -> accept(aggregation, new Update("learner-z", 5, wrongShape)));
    assertTrue(shape.getMessage().startsWith("the update does not match the global "
        + "parameters"), shape.getMessage());
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> accept(aggregation, updates.get(0)));
    assertTrue(twice.getMessage().contains("already holds an update of learner "
        + updates.get(0).learnerId()), twice.getMessage());
    for (Update update : updates.subList(1, updates.size())) {
      accept(aggregation, update);
    }

    AggregationResult result = aggregation.finish(List.of());

    assertEquals(5, result.updates(), "the refused updates are not counted");
    assertEquals(expected, result.parameters().orElseThrow());
  }

  @Test
  void unwritableStagingDirectory_refusesTheUpdate_namingTheDirectory() throws IOException {
    Path blocked = Files.createFile(staging.resolve("blocked")).resolve("sub");
    FitAggregation aggregation = FedMedian.builder().stagingDirectory(blocked).build()
        .beginFitAggregation(1, global, null);
    UncheckedIOException refused = assertThrows(UncheckedIOException.class,
        () -> accept(aggregation, round(110, 1, 0).get(0)));
    assertTrue(refused.getMessage().startsWith("cannot stage the update of learner-a in "
        + blocked), refused.getMessage());
    assertTrue(refused.getMessage().contains("point stagingDirectory(...) at a writable "
        + "directory"), refused.getMessage());
    assertEquals(0, aggregation.finish(List.of()).updates());
  }

  @Test
  void modelWithoutFloat32_refusedWithTheFix() {
    Parameters doubles = Parameters.of(new Tensor("d", DType.FLOAT64, new long[] {2},
        ByteBuffer.allocate(16)));
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> FedMedian.builder().stagingDirectory(staging).build()
            .beginFitAggregation(1, doubles, null));
    assertEquals("robust aggregation combines FLOAT32 tensors only, but the model's tensor "
        + "d FLOAT64[2] is not; use FedAvg for this model", refused.getMessage());
  }

  @Test
  void meanAroundMedian_takesTheBetaClosest_withTiesToTheSmallerValue() {
    // {0, 1, 3, 5, 6, 100}: median 4; 3 and 5 (distance 1), then 6 (2) before 1 (3).
    assertEquals((3f + 5f + 6f) / 3,
        RobustRules.meanAroundMedian(new float[] {100, 6, 5, 3, 1, 0}, 3));
    // Odd count: the median itself, then 2 and 4 tie (distance 1): the smaller first.
    assertEquals(2.5f, RobustRules.meanAroundMedian(new float[] {4, 3, 2, -9, 9}, 2));
    assertEquals(3f, RobustRules.meanAroundMedian(new float[] {4, 3, 2, -9, 9}, 3));
    assertEquals(-1.8f, RobustRules.meanAroundMedian(new float[] {4, 3, 2, -9, -9}, 5));
  }

  private List<Path> files() throws IOException {
    try (Stream<Path> listing = Files.list(staging)) {
      return listing.filter(p -> !p.getFileName().toString().equals("a-file")).toList();
    }
  }

  /** Asserts that the result is the double reference rounded to float32, within a tolerance. */
  private static void assertClose(double[] expected, Parameters actual, double relative) {
    float[] values = flat(actual);
    assertEquals(expected.length, values.length);
    for (int k = 0; k < values.length; k++) {
      double tolerance = relative * Math.max(1, Math.abs(expected[k]));
      if (relative == 0) {
        assertEquals((float) expected[k], values[k], "coordinate " + k);
      } else {
        assertEquals(expected[k], values[k], tolerance + Math.ulp((float) expected[k]),
            "coordinate " + k);
      }
    }
  }
}
