package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import dev.flops.api.Tensor;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The best round of a model that reports no accuracy (a regression: loss and {@code mse}), over
 * real gRPC with a real {@code Learner}, tracked in MLflow's file store: the ranking chooses the
 * round, the final log line says by what, and the tracked best model holds that round's
 * parameters.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BestRoundTest {

  @TempDir
  Path temp;

  /** Fits by adding 1 to every value; evaluating round r reports loss 10 - r and mse[r - 1]. */
  private static final class Regression implements LocalTrainer {
    private final ArrayModel model;
    private final double[] mse;

    Regression(Parameters initial, double... mse) {
      this.model = new ArrayModel(initial);
      this.mse = mse;
    }

    @Override
    public ArrayModel model() {
      return model;
    }

    @Override
    public FitResult fit(Config config) {
      return new FitResult(FakeTrainer.add(model.getParameters(), 1f), 20, Map.of());
    }

    @Override
    public EvaluateResult evaluate(Config config) {
      int round = (int) config.getLong(ROUND, 0);
      return new EvaluateResult(10 - round, 20, Map.of("mse", mse[round - 1]));
    }
  }

  private record Run(TrainingResult result, Parameters initial, String log) {}

  private static final String ROUND = "round";

  private Run train(RoundRanking ranking, double... mse) throws Exception {
    return train(3, builder -> ranking == null ? builder : builder.bestRound(ranking), mse);
  }

  private Run train(int rounds, UnaryOperator<TrainingPlan.Builder> knobs, double... mse)
      throws Exception {
    Parameters initial = Federations.randomParameters(11, false);
    TrainingPlan plan = knobs.apply(TrainingPlan.builder().rounds(rounds)
        .tracking(Tracking.fileStore(temp.resolve("mlruns")).experimentName("regression")))
        .build();
    FedAvg strategy = FedAvg.builder().evaluateConfig(round -> Config.of(ROUND, round)).build();
    Aggregator.Builder builder = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial));
    try (LogCapture logs = new LogCapture();
        Aggregator aggregator = builder.build().start()) {
      CompletableFuture<Void> learner = Federations.startLearner("regressor", aggregator.port(),
          new Regression(initial, mse));
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
      return new Run(result, initial, logs.text());
    }
  }

  @Test
  void noAccuracy_defaultRanking_bestIsTheLowestLoss_andTrackedModelIsThatRounds()
      throws Exception {
    Run run = train(null, 3.0, 2.0, 1.0);

    assertEquals(9.0, run.result.rounds().get(0).loss(), 1e-12);
    assertEquals(7.0, run.result.rounds().get(2).loss(), 1e-12);
    assertEquals(3, run.result.best().orElseThrow().round());
    assertTrue(run.log.contains("best round 3 by lowest loss (loss 7.0000)"), run.log);
    assertTrackedBestModel(run, 3, FakeTrainer.add(run.initial, 3f));
    Path parent = runDirectory(run, run.result.trackingInfo().orElseThrow().parentRunId());
    assertEquals("3.0", lastValue(parent.resolve("metrics/best_round")));
    assertFalse(Files.exists(parent.resolve("metrics/best_accuracy")),
        "no accuracy was reported: none is tracked as NaN");
    assertEquals("1.0", lastValue(parent.resolve("metrics/best_mse")), "round 3's mse");
    Path round3 = runDirectory(run, run.result.trackingInfo().orElseThrow().bestRoundRunId());
    assertTrue(Double.parseDouble(lastValue(round3.resolve("metrics/round_learner_wait_s"))) >= 0,
        "the wait for learners is tracked apart from the round's duration");
  }

  @Test
  void minimizeMse_bestIsTheLowestMse_notTheLowestLoss() throws Exception {
    Run run = train(RoundRanking.minimize("mse"), 3.0, 1.0, 2.0);

    assertEquals(2, run.result.best().orElseThrow().round());
    assertTrue(run.log.contains("best round 2 by lowest mse (mse 1.0000, loss 8.0000)"), run.log);
    assertTrackedBestModel(run, 2, FakeTrainer.add(run.initial, 2f));
    Path parent = runDirectory(run, run.result.trackingInfo().orElseThrow().parentRunId());
    assertEquals("1.0", lastValue(parent.resolve("metrics/best_mse")),
        "the ranking metric's value in the best round (round 2), not the lowest loss's round");
  }

  @Test
  void resumedTraining_ranksTheCheckpointsRoundsByItsOwnKnob() throws Exception {
    Path checkpoints = temp.resolve("checkpoints");
    double[] mse = {1.0, 3.0, 2.0};
    Run firstTwo = train(2, builder -> builder.checkpointDirectory(checkpoints), mse);
    assertEquals(2, firstTwo.result.best().orElseThrow().round(), "by default: the lowest loss");

    Run resumed = train(3, builder -> builder.checkpointDirectory(checkpoints).resume(true)
        .bestRound(RoundRanking.minimize("mse")), mse);

    assertEquals(3, resumed.result.rounds().size());
    assertEquals(1, resumed.result.best().orElseThrow().round(),
        "ranked by mse, round 1 (mse 1.0) beats the checkpoint's best round 2 and round 3");
    assertTrue(resumed.log.contains("best round 1 by lowest mse (mse 1.0000, loss 9.0000)"),
        resumed.log);
  }

  private Path runDirectory(Run run, String runId) {
    TrackingInfo info = run.result.trackingInfo().orElseThrow();
    return temp.resolve("mlruns").resolve(info.experimentId()).resolve(runId);
  }

  private static String lastValue(Path metricFile) throws Exception {
    var lines = Files.readAllLines(metricFile);
    return lines.get(lines.size() - 1).split(" ")[1];
  }

  /** The best round's run is named for that round and its model file holds its parameters. */
  private void assertTrackedBestModel(Run run, int round, Parameters expected) throws Exception {
    TrackingInfo info = run.result.trackingInfo().orElseThrow();
    Path bestRun = runDirectory(run, info.bestRoundRunId());
    assertEquals("round " + round,
        Files.readString(bestRun.resolve("tags/mlflow.runName")).trim());
    Path modelFile;
    try (Stream<Path> files = Files.walk(bestRun)) {
      modelFile = files.filter(p -> p.getFileName().toString().equals("model.safetensors"))
          .findFirst().orElseThrow(() -> new AssertionError("no model file in " + bestRun));
    }
    // safetensors: an 8-byte little-endian header length, a JSON header, then the data.
    ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(modelFile)).order(ByteOrder.LITTLE_ENDIAN);
    int headerLength = (int) file.getLong();
    byte[] headerBytes = new byte[headerLength];
    file.get(headerBytes);
    JsonObject header = JsonParser.parseString(new String(headerBytes, StandardCharsets.UTF_8))
        .getAsJsonObject();
    assertEquals(String.valueOf(round),
        header.getAsJsonObject("__metadata__").get("best_round").getAsString());
    int dataStart = 8 + headerLength;
    for (Tensor tensor : expected) {
      var offsets = header.getAsJsonObject(tensor.name()).getAsJsonArray("data_offsets");
      float[] logged = new float[tensor.toFloatArray().length];
      ByteBuffer.wrap(file.array(), dataStart + offsets.get(0).getAsInt(),
              offsets.get(1).getAsInt() - offsets.get(0).getAsInt())
          .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(logged);
      // Rounds differ by 1.0 in every value; the tolerance only absorbs float rounding.
      assertArrayEquals(tensor.toFloatArray(), logged, 1e-4f,
          "tensor " + tensor.name() + " of round " + round);
    }
  }
}
