package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The hierarchical-federation command end to end on a subset of Fashion-MNIST: a root, 2
 * cluster aggregators and 2 x 3 DL4J learners over gRPC on loopback in one JVM.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HierarchicalFederationTest {

  @Test
  void runsEndToEnd_printsTheRoundTable_nestsClusterRunsUnderRootRounds(@TempDir Path temp)
      throws Exception {
    Path mlruns = temp.resolve("mlruns");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    HierarchicalFederation command =
        new HierarchicalFederation(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    int exit = new CommandLine(command).execute("--clusters", "2", "--learners-per-cluster", "3",
        "--cycles", "2", "--rounds", "2", "--train-limit", "3000", "--test-limit", "600",
        "--tracking-uri", mlruns.toUri().toString(), "--tracking-outbox",
        temp.resolve("outbox").toString(), "--checkpoint-dir", temp.resolve("ckpt").toString());
    String output = bytes.toString(StandardCharsets.UTF_8);

    assertEquals(0, exit, output);
    assertTrue(output.contains("2 clusters (classes dealt out to them) x 3 learners"), output);
    assertTrue(output.lines().anyMatch(l -> l.matches("\\s+1\\s+2/0\\s+2/0\\s+.*")), output);
    assertTrue(output.lines().anyMatch(l -> l.matches("\\s+2\\s+2/0\\s+2/0\\s+.*")), output);
    assertTrue(output.contains("cluster accuracy after its cycles"), output);
    TrainingResult result = command.result();
    assertEquals(2, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      // The clusters' learners together hold every training example once (the last cycle's).
      assertEquals(3000, round.fitExamples(), "root round " + round.round());
      // ... and every test example once: the clusters' evaluations cover the whole test set.
      assertEquals(600, round.evaluation().numExamples());
    }
    assertTrue(result.finalRound().accuracy() > 0.3,
        "the root's model learned something: " + result.rounds());

    // The root checkpoints in DIR/root, each cluster one directory per root round.
    assertTrue(Files.exists(temp.resolve("ckpt/root/flops-checkpoint.bin")));
    for (int c = 0; c < 2; c++) {
      try (Stream<Path> rounds = Files.list(temp.resolve("ckpt/cluster-" + c))) {
        assertEquals(List.of("root-round-1-", "root-round-2-"), rounds
            .map(p -> p.getFileName().toString().replaceAll("[0-9a-f]{8}$", ""))
            .sorted().toList());
      }
    }

    MlflowFileStoreReader.Experiment experiment =
        MlflowFileStoreReader.read(mlruns, FashionMnist.EXPERIMENT);
    Map<String, MlflowFileStoreReader.Run> byId = experiment.runs().stream()
        .collect(Collectors.toMap(MlflowFileStoreReader.Run::id, Function.identity()));
    String rootRun = result.trackingInfo().orElseThrow().parentRunId();
    for (int round = 1; round <= 2; round++) {
      String rootRound = only(experiment.runs(), "round " + round, rootRun).id();
      for (int c = 0; c < 2; c++) {
        String cluster = only(experiment.runs(), "cluster-" + c + ", root round " + round,
            rootRound).id();
        only(experiment.runs(), "round 1", cluster);
        only(experiment.runs(), "round 2", cluster);
        assertEquals("3", byId.get(cluster).params().get("min_available_learners"));
      }
    }
  }

  private static MlflowFileStoreReader.Run only(List<MlflowFileStoreReader.Run> runs, String name,
      String parent) {
    List<MlflowFileStoreReader.Run> found = runs.stream()
        .filter(r -> name.equals(r.name()) && parent.equals(r.tags().get("mlflow.parentRunId")))
        .toList();
    assertEquals(1, found.size(), "runs named '" + name + "' under " + parent);
    return found.get(0);
  }

  @Test
  void sitesHoldDisjointClassesAndTheirLearnersSplitThemIid() {
    int[] labels = new int[1000];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (i * 7) % FashionMnist.NUM_CLASSES;
    }
    boolean[] seen = new boolean[labels.length];
    for (int site = 0; site < 2; site++) {
      SiteShare share = new SiteShare(2, site);
      for (int index : share.examples(labels)) {
        assertEquals(site, labels[index] < 5 ? 0 : 1, "example " + index);
        assertTrue(!seen[index], "example " + index + " is at two sites");
        seen[index] = true;
      }
    }
    for (boolean example : seen) {
      assertTrue(example, "every example belongs to a site");
    }
    assertEquals("site 1 of 2 (classes [5, 6, 7, 8, 9])", new SiteShare(2, 1).toString());
  }

  @Test
  void badSiteValuesNameTheFlag() {
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> new SiteShare(2, 2));
    assertTrue(e.getMessage().contains("--cluster 2 is outside [0, 2)"), e.getMessage());
    e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> new SiteShare(11, 0));
    assertTrue(e.getMessage().contains("--clusters must be between 1 and 10"), e.getMessage());
  }
}
