package dev.flops.examples.fashion;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.Evaluation;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The results local-federation prints: the setup line first (no blank line), tracking last. */
class RoundTableTest {

  @Test
  void print_startsWithTheSetup_endsWithWhereItWasTracked() {
    RoundSummary round = new RoundSummary(1, 3, 0, 3, 0,
        new Evaluation(0.5, 30, 3, Map.of("accuracy", 0.75)), Duration.ofSeconds(2), List.of());
    TrainingResult result = new TrainingResult(List.of(round), round,
        Parameters.of(Tensor.ofFloats("w", 1f)), Duration.ofSeconds(3),
        new TrackingInfo("http://127.0.0.1:5000", "7", "parent", "best", List.of()));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    RoundTable.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), "the setup", result,
        null, Duration.ofSeconds(3));

    List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals("the setup", lines.get(0), String.join("\n", lines));
    assertEquals("tracked in MLflow at http://127.0.0.1:5000: experiment 7, parent run parent, "
        + "best round's run best", lines.get(lines.size() - 1));
  }
}
