package dev.flops.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.io.NamedTensorFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Loading the best model of a run" snippets, run here verbatim (each snippet is a
 * text block below, checked to appear in the README as is, and the same code runs) against the
 * layout the tracker writes: {@code mlruns/<experiment>/<run>/artifacts/model/}.
 */
class ReadmeLoadingTest {

  @TempDir
  Path dir;

  private static final String PLAIN = """
      Path model = Path.of("mlruns", experimentId, runId, "artifacts", "model");
      Parameters best = NamedTensorFile.read(model.resolve("model.safetensors"));
      float[] weights = best.get("dense_W").toFloatArray();
      """;

  private static final String DL4J = """
      MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(
          model.resolve("model.zip").toFile());
      Dl4jModel fresh = Dl4jModel.of(network);   // network: a MultiLayerNetwork built and init()-ed
      fresh.setParameters(NamedTensorFile.read(model.resolve("model.safetensors")));
      """;

  private static void assertInReadme(String snippet) throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"));
    assertTrue(readme.contains("```java\n" + snippet + "```"), "README.md lacks:\n" + snippet);
  }

  private Path runModelDirectory(String experimentId, String runId) throws IOException {
    return Files.createDirectories(dir.resolve(Path.of("mlruns", experimentId, runId,
        "artifacts", "model")));
  }

  @Test
  void plainJavaSnippet() throws IOException {
    assertInReadme(PLAIN);
    String experimentId = "123456789012345678";
    String runId = "0123456789abcdef0123456789abcdef";
    Parameters written = Parameters.of(
        Tensor.ofFloats("dense_W", new long[] {2, 2}, new float[] {1, 2, 3, 4}));
    NamedTensorFile.write(written, Map.of(), runModelDirectory(experimentId, runId)
        .resolve("model.safetensors"));
    Path cwd = dir; // the snippet's relative "mlruns" path, resolved against the test directory

    Path model = cwd.resolve(Path.of("mlruns", experimentId, runId, "artifacts", "model"));
    Parameters best = NamedTensorFile.read(model.resolve("model.safetensors"));
    float[] weights = best.get("dense_W").toFloatArray();

    assertArrayEquals(new float[] {1, 2, 3, 4}, weights);
  }

  @Test
  void dl4jSnippet() throws IOException {
    assertInReadme(DL4J);
    MultiLayerNetwork trained = Dl4jModelTest.smallNetwork(7, org.nd4j.linalg.api.buffer.DataType.FLOAT);
    Dl4jModel source = Dl4jModel.of(trained);
    Path model = runModelDirectory("1", "fedcba9876543210fedcba9876543210");
    source.save(source.getParameters(), model.resolve(Dl4jModel.MODEL_FILE));
    NamedTensorFile.write(source.getParameters(), Map.of(), model.resolve("model.safetensors"));
    MultiLayerNetwork network = Dl4jModelTest.smallNetwork(99,
        org.nd4j.linalg.api.buffer.DataType.FLOAT);

    MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(
        model.resolve("model.zip").toFile());
    Dl4jModel fresh = Dl4jModel.of(network);   // network: a MultiLayerNetwork built and init()-ed
    fresh.setParameters(NamedTensorFile.read(model.resolve("model.safetensors")));

    assertEquals(source.getParameters(), Dl4jModel.of(restored).getParameters());
    assertEquals(source.getParameters(), fresh.getParameters());
  }
}
