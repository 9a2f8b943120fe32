package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrackingInfo;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoint integration point: a second training started with {@code Tracking.resume}
 * continues the first one's parent run instead of creating a new one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TrackingResumeTest {

  @TempDir
  Path temp;

  private TrackingInfo train(Tracking tracking, int rounds) throws Exception {
    Parameters initial = Federations.randomParameters(41, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(rounds).tracking(tracking).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      var learner = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 3));
      TrackingInfo info = aggregator.train(plan, strategy).trackingInfo().orElseThrow();
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
      return info;
    }
  }

  @Test
  void resumedTraining_continuesTheSameParentRun() throws Exception {
    Tracking tracking = Tracking.fileStore(temp.resolve("mlruns")).experimentName("resumable");
    TrackingInfo first = train(tracking, 2);
    TrackingInfo second = train(tracking.resume(first.experimentId(), first.parentRunId()), 1);

    assertEquals(first.experimentId(), second.experimentId());
    assertEquals(first.parentRunId(), second.parentRunId());
    assertEquals(List.of(), second.unsent());
    Path experiment = temp.resolve("mlruns").resolve(first.experimentId());
    try (Stream<Path> runs = Files.list(experiment).filter(Files::isDirectory)
        .filter(dir -> !dir.getFileName().toString().equals("models"))) { // MLflow 3's models
      assertEquals(4, runs.count(), "one parent run, 2 + 1 round runs");
    }
    Path parent = experiment.resolve(first.parentRunId());
    assertTrue(Files.readString(parent.resolve("meta.yaml")).contains("status: 3\n"),
        "FINISHED again after the resumed training");
    assertEquals(3, Files.readAllLines(parent.resolve("metrics/accuracy")).size(),
        "the parent run's accuracy continues: 2 rounds, then 1 more");
  }
}
