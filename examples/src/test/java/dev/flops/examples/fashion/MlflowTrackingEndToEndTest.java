package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.TestPorts;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.dl4j.Dl4jModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The main job (local-federation: DL4J MLPs on Fashion-MNIST, 3 learners, 3 rounds, real gRPC on
 * 127.0.0.1) tracked into MLflow's file store, then read back file by file by {@link
 * MlflowFileStoreReader}.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class MlflowTrackingEndToEndTest {

  @TempDir
  Path temp;

  @Test
  void localFederation_leavesAnMlrunsThatFollowsMlflowsLayout() throws Exception {
    Path mlruns = temp.resolve("mlruns");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LocalFederation command =
        new LocalFederation(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    int exit = new CommandLine(command).execute("--learners", "3", "--rounds", "3",
        "--train-limit", "3000", "--test-limit", "600", "--tracking-uri", mlruns.toString(),
        "--experiment", "fashion e2e", "--event-log", temp.resolve("events.jsonl").toString());
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, output);
    TrainingResult result = command.result();
    TrackingInfo info = result.trackingInfo().orElseThrow();
    assertEquals(List.of(), info.unsent());
    assertTrue(output.contains("MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri"),
        output);
    assertTrue(output.contains("tracked in MLflow at " + info.trackingUri() + ": experiment "
        + info.experimentId()), output);

    MlflowFileStoreReader.Experiment experiment =
        MlflowFileStoreReader.read(mlruns, "fashion e2e");
    assertEquals(info.experimentId(), experiment.id());
    assertEquals(4, experiment.runs().size(), "the parent run and one run per round");
    MlflowFileStoreReader.Run parent = experiment.runs().stream()
        .filter(r -> r.id().equals(info.parentRunId())).findFirst().orElseThrow();
    assertTrue(!parent.tags().containsKey("mlflow.parentRunId"));
    assertEquals("3", parent.meta().get("status"), "FINISHED");
    assertEquals("FedAvg", parent.params().get("strategy"));
    assertEquals("3", parent.params().get("rounds"));
    assertEquals("3", parent.params().get("min_available_learners"));
    assertEquals("1.0", parent.params().get("fraction_fit"));
    assertEquals("1", parent.params().get("local_epochs"));
    assertEquals("64", parent.params().get("fit_config.batch_size"));

    RoundSummary best = result.best().orElseThrow();
    for (RoundSummary round : result.rounds()) {
      MlflowFileStoreReader.Run run = experiment.runs().stream()
          .filter(r -> ("round " + round.round()).equals(r.name())).findFirst().orElseThrow();
      assertEquals(parent.id(), run.tags().get("mlflow.parentRunId"));
      assertEquals(String.valueOf(round.round()), run.tags().get("flops.round"));
      assertEquals("3", run.meta().get("status"), "FINISHED");
      long start = Long.parseLong(run.meta().get("start_time"));
      long end = Long.parseLong(run.meta().get("end_time"));
      assertTrue(start <= end && end - start <= round.duration().toMillis() + 1000,
          "start and end of round " + round.round());
      assertEquals(List.of(new MlflowFileStoreReader.MetricValue(end, round.accuracy(),
          round.round())), run.metrics().get("accuracy"));
      assertEquals(round.loss(), run.metrics().get("loss").get(0).value());
      for (String metric : List.of("fit_learners", "failed_learners", "round_duration_s",
          "bytes_received", "bytes_sent", "round/process_cpu_seconds",
          "round/jvm_heap_used_megabytes_at_end", "round/jvm_nonheap_used_megabytes_at_end",
          "round/offheap_megabytes_at_end")) {
        assertEquals(1, run.metrics().get(metric).size(), metric + " in round " + round.round());
      }
      assertEquals(3.0, run.metrics().get("fit_learners").get(0).value());
      // Round 1: 3 fit and 3 evaluate downloads of the 159,010-parameter MLP; later rounds: the
      // learners fit on the parameters they evaluated, so only the 3 evaluate downloads.
      int downloads = round.round() == 1 ? 6 : 3;
      assertTrue(run.metrics().get("bytes_sent").get(0).value() > downloads * 159_010 * 4,
          "bytes sent in round " + round.round() + ": " + run.metrics().get("bytes_sent"));
      assertTrue(run.metrics().get("bytes_received").get(0).value() > 3 * 159_010 * 4,
          "3 uploads in round " + round.round());
      assertEquals("1", run.params().get("local_epochs"));
      Set<String> artifacts;
      try (Stream<Path> files = Files.walk(run.artifacts())) {
        artifacts = files.filter(Files::isRegularFile)
            .map(p -> run.artifacts().relativize(p).toString()).collect(Collectors.toSet());
      }
      if (round.round() == best.round()) {
        assertEquals(Set.of("model/model.zip", "model/MLmodel", "model/requirements.txt",
            "model/java_env.yaml"), artifacts);
        assertEquals(run.id(), info.bestRoundRunId());
        String mlmodel = Files.readString(run.artifacts().resolve("model/MLmodel"));
        assertTrue(mlmodel.contains("run_id: " + run.id()) && mlmodel.contains("  dl4j:\n")
            && mlmodel.contains("    best_round: " + best.round()), mlmodel);
        assertTrue(Files.readString(run.artifacts().resolve("model/requirements.txt"))
            .contains("org.deeplearning4j:deeplearning4j-nn:1.0.0-M2.1\n"));
        assertTrue(run.tags().get("mlflow.log-model.history").contains("\"artifact_path\":\"model\""));
      } else {
        assertEquals(Set.of(), artifacts, "only the best round holds a model");
      }
    }
    // The parent run: each metric per round at step = round, then the final and best metrics.
    assertEquals(List.of(1L, 2L, 3L), parent.metrics().get("accuracy").stream()
        .map(MlflowFileStoreReader.MetricValue::step).toList());
    assertEquals(result.rounds().stream().map(RoundSummary::accuracy).toList(),
        parent.metrics().get("accuracy").stream().map(MlflowFileStoreReader.MetricValue::value)
            .toList());
    assertEquals(best.round(), parent.metrics().get("best_round").get(0).value());
    assertEquals(best.accuracy(), parent.metrics().get("best_accuracy").get(0).value());
    assertEquals(result.finalRound().accuracy(),
        parent.metrics().get("final_accuracy").get(0).value());
    assertTrue(Files.exists(parent.artifacts().resolve("model/model.zip")));

    // MLflow 3: one logged model, READY, produced by the best round's run, an output of it and
    // of the parent run; its own artifacts hold the same files.
    assertEquals(1, experiment.models().size());
    MlflowFileStoreReader.LoggedModel logged3 = experiment.models().get(0);
    assertEquals("2", logged3.meta().get("status"), "READY");
    assertEquals(info.bestRoundRunId(), logged3.meta().get("source_run_id"));
    assertTrue(Files.exists(logged3.artifacts().resolve("model.zip")));
    assertTrue(Files.readString(logged3.artifacts().resolve("MLmodel"))
        .contains("model_id: " + logged3.id() + "\n"));
    for (String run : List.of(info.bestRoundRunId(), info.parentRunId())) {
      assertTrue(Files.readString(mlruns.resolve(info.experimentId()).resolve(run)
          .resolve("outputs").resolve(logged3.id()).resolve("meta.yaml"))
          .contains("step: " + best.round() + "\n"), run);
    }

    // The logged model is DL4J's own file holding the best round's parameters.
    MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(
        parent.artifacts().resolve("model/model.zip").toFile());
    Parameters logged = Dl4jModel.of(restored).getParameters();
    assertEquals(result.finalParameters().names(), logged.names());
    if (best.round() == result.finalRound().round()) {
      assertEquals(result.finalParameters(), logged, "best round = last round: final parameters");
    }

    // The event log of the same run.
    List<String> events = Files.readAllLines(temp.resolve("events.jsonl"));
    assertEquals(5, events.size(), events.toString());
    assertTrue(events.get(4).contains("\"best_round_run_id\":\"" + info.bestRoundRunId() + "\""),
        events.get(4));
  }

  @Test
  void unreachableServer_finalLinesSayNotTrackedAndHowToDeliver() throws Exception {
    int closedPort = TestPorts.unusedPort();
    Path outbox = temp.resolve("outbox");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LocalFederation command =
        new LocalFederation(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    int exit = new CommandLine(command).execute("--learners", "1", "--rounds", "1",
        "--train-limit", "300", "--test-limit", "100",
        "--tracking-uri", "http://127.0.0.1:" + closedPort, "--tracking-outbox", outbox.toString(),
        "--tracking-flush-timeout", "1");
    String output = bytes.toString(StandardCharsets.UTF_8);

    assertEquals(0, exit, output);
    assertTrue(!output.contains("tracked in MLflow") && !output.contains("null"), output);
    assertTrue(output.contains("not tracked yet: nothing reached MLflow at http://127.0.0.1:"
        + closedPort), output);
    assertTrue(output.contains("wait in " + outbox) && output.contains(
        "bin/run-example flush-tracking --outbox " + outbox + " --tracking-uri http://"), output);
    try (Stream<Path> files = Files.list(outbox)) {
      assertEquals(1, files.filter(f -> f.toString().endsWith(".jsonl")).count());
    }
  }
}
