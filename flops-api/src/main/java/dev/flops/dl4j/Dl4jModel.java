package dev.flops.dl4j;

import dev.flops.api.FederatedModel;
import dev.flops.api.ParameterMismatchException;
import dev.flops.api.Parameters;
import dev.flops.api.SavableModel;
import dev.flops.api.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import org.bytedeco.javacpp.Loader;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A DL4J {@link MultiLayerNetwork} or {@link ComputationGraph} as a {@link FederatedModel}.
 *
 * <p>Parameters are read from and written to the network through its own parameter table, so every
 * tensor keeps DL4J's name ({@code 0_W}, {@code 0_b}, ... for a MultiLayerNetwork; {@code
 * dense_W}, ... for a ComputationGraph) and its shape; data travels in row-major order whatever the
 * network's internal ordering. The network must be initialised ({@code init()}) before it is
 * wrapped.
 *
 * <pre>{@code
 * MultiLayerNetwork net = new MultiLayerNetwork(conf);
 * net.init();
 * FederatedModel model = Dl4jModel.of(net);
 * }</pre>
 *
 * <p>As a {@link SavableModel} it saves with DL4J's {@link ModelSerializer} (a zip holding the
 * configuration JSON and the parameters; no updater state), which
 * {@code ModelSerializer.restoreMultiLayerNetwork(file)} or {@code restoreComputationGraph(file)}
 * loads back.
 */
public final class Dl4jModel implements SavableModel {

  /** The file {@link #save} writes. */
  public static final String MODEL_FILE = "model.zip";

  private final Model network;
  private final MultiLayerNetwork multiLayer;
  private final ComputationGraph graph;

  private Dl4jModel(Model network, MultiLayerNetwork multiLayer, ComputationGraph graph) {
    this.network = network;
    this.multiLayer = multiLayer;
    this.graph = graph;
    boolean initialised;
    try {
      initialised = network.params() != null && !network.paramTable().isEmpty();
    } catch (NullPointerException e) {
      initialised = false; // DL4J's paramTable() dereferences layers that init() creates
    }
    if (!initialised) {
      throw new IllegalArgumentException(
          "the network has no parameters; call init() on it before wrapping it in Dl4jModel");
    }
  }

  /**
   * Wraps a multi-layer network. The model shares the network: training the network changes what
   * {@link #getParameters()} returns next.
   *
   * @param network an initialised network
   * @return the model
   * @throws IllegalArgumentException if the network is not initialised
   */
  public static Dl4jModel of(MultiLayerNetwork network) {
    Objects.requireNonNull(network, "network");
    return new Dl4jModel(network, network, null);
  }

  /**
   * Wraps a computation graph. The model shares the graph.
   *
   * @param graph an initialised graph
   * @return the model
   * @throws IllegalArgumentException if the graph is not initialised
   */
  public static Dl4jModel of(ComputationGraph graph) {
    Objects.requireNonNull(graph, "graph");
    return new Dl4jModel(graph, null, graph);
  }

  /**
   * Returns the wrapped network.
   *
   * @return the MultiLayerNetwork or ComputationGraph
   */
  public Model network() {
    return network;
  }

  /**
   * Returns {@code false}: {@link #setParameters} copies the values into the network's own
   * parameters and {@link #getParameters()} returns a copy, so replaced parameters are never read.
   */
  @Override
  public boolean keepsParameters() {
    return false;
  }

  @Override
  public Parameters getParameters() {
    Map<String, INDArray> table = network.paramTable();
    List<Tensor> tensors = new ArrayList<>(table.size());
    for (Map.Entry<String, INDArray> entry : table.entrySet()) {
      INDArray values = entry.getValue();
      tensors.add(new Tensor(entry.getKey(), dev.flops.api.DType.FLOAT32, values.shape(),
          Nd4jBuffers.toDirectFloats(values)));
    }
    return new Parameters(tensors);
  }

  @Override
  public void setParameters(Parameters parameters) {
    Objects.requireNonNull(parameters, "parameters");
    describeMismatch(parameters).ifPresent(mismatch -> {
      throw new ParameterMismatchException(
          "parameters do not fit this DL4J network: " + mismatch);
    });
    DataType networkType = network.params().dataType();
    for (Tensor tensor : parameters) {
      INDArray values = Nd4jBuffers.floats(tensor.data(), tensor.shape());
      network.setParam(tensor.name(),
          networkType == DataType.FLOAT ? values : values.castTo(networkType));
    }
  }

  /** Compares names, order, dtype and shapes with the parameter table without copying data. */
  private Optional<String> describeMismatch(Parameters parameters) {
    Map<String, INDArray> table = network.paramTable();
    if (table.size() != parameters.size()) {
      return Optional.of(String.format("expected %d tensors %s but got %d %s",
          table.size(), table.keySet(), parameters.size(), parameters.names()));
    }
    int i = 0;
    for (Map.Entry<String, INDArray> entry : table.entrySet()) {
      Tensor tensor = parameters.tensors().get(i);
      String expected = entry.getKey() + " FLOAT32" + Arrays.toString(entry.getValue().shape());
      if (!tensor.spec().equals(expected)) {
        return Optional.of(String.format("tensor #%d: expected %s but got %s", i, expected,
            tensor.spec()));
      }
      i++;
    }
    return Optional.empty();
  }

  /**
   * Writes a copy of the network holding {@code parameters} with DL4J's {@link ModelSerializer}
   * (configuration and parameters, without updater state). The wrapped network is not changed.
   *
   * @param parameters parameters with this network's structure
   * @param file the zip file to create or replace
   * @throws IOException if the file cannot be written
   * @throws IllegalArgumentException if the parameters do not fit this network
   */
  @Override
  public void save(Parameters parameters, Path file) throws IOException {
    Objects.requireNonNull(parameters, "parameters");
    Objects.requireNonNull(file, "file");
    Dl4jModel copy = multiLayer != null ? of(multiLayer.clone()) : of(graph.clone());
    copy.setParameters(parameters);
    ModelSerializer.writeModel(copy.network, file.toFile(), false);
  }

  @Override
  public String fileName() {
    return MODEL_FILE;
  }

  @Override
  public String flavor() {
    return "dl4j";
  }

  @Override
  public Map<String, String> flavorAttributes() {
    Map<String, String> attributes = new LinkedHashMap<>();
    attributes.put("model_file", MODEL_FILE);
    attributes.put("model_class", network.getClass().getName());
    attributes.put("loader", ModelSerializer.class.getName()
        + (multiLayer != null ? ".restoreMultiLayerNetwork" : ".restoreComputationGraph"));
    attributes.put("serialization_format", "ModelSerializer zip (configuration JSON and "
        + "parameters, no updater state)");
    attributes.put("dl4j_version", mavenVersion("org.deeplearning4j", "deeplearning4j-nn"));
    return attributes;
  }

  @Override
  public List<String> requirements() {
    String nn = mavenVersion("org.deeplearning4j", "deeplearning4j-nn");
    String nativeVersion = mavenVersion("org.nd4j", "nd4j-native");
    return List.of(
        "org.deeplearning4j:deeplearning4j-nn:" + nn,
        "org.nd4j:nd4j-native:" + nativeVersion,
        "org.nd4j:nd4j-native:jar:" + Loader.getPlatform() + ":" + nativeVersion);
  }

  /** Reads a library's version from the pom.properties Maven puts in its jar. */
  private static String mavenVersion(String groupId, String artifactId) {
    String resource = "/META-INF/maven/" + groupId + "/" + artifactId + "/pom.properties";
    try (InputStream in = ModelSerializer.class.getResourceAsStream(resource)) {
      if (in == null) {
        return "unknown";
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  /**
   * Starts local training afresh from the current parameters: zeroes the updater's state (e.g.
   * Adam's moments) and the iteration and epoch counts, which Adam's bias correction reads. Without
   * this a learner's second round would continue the optimiser state of its first.
   */
  public void resetOptimizer() {
    if (multiLayer != null) {
      if (multiLayer.getUpdater(false) != null
          && multiLayer.getUpdater(false).getStateViewArray() != null) {
        multiLayer.getUpdater(false).getStateViewArray().assign(0);
      }
      multiLayer.getLayerWiseConfigurations().setIterationCount(0);
      multiLayer.getLayerWiseConfigurations().setEpochCount(0);
    } else {
      if (graph.getUpdater(false) != null && graph.getUpdater(false).getStateViewArray() != null) {
        graph.getUpdater(false).getStateViewArray().assign(0);
      }
      graph.getConfiguration().setIterationCount(0);
      graph.getConfiguration().setEpochCount(0);
    }
  }

  /**
   * Trains on every minibatch of the iterator once.
   *
   * @param batches the training minibatches
   */
  public void fitEpoch(DataSetIterator batches) {
    if (multiLayer != null) {
      multiLayer.fit(batches);
    } else {
      graph.fit(batches);
    }
  }

  /**
   * Runs {@code training} with one more training listener on the network, and removes it again
   * afterwards, also when training throws.
   *
   * @param listener the listener, called after the network's own ones
   * @param training the fits to run
   */
  void withListener(TrainingListener listener, Runnable training) {
    Collection<TrainingListener> current =
        multiLayer != null ? multiLayer.getListeners() : graph.getListeners();
    // a copy: DL4J's setListeners clears its own collection, which getListeners returns
    List<TrainingListener> own = current == null ? List.of() : new ArrayList<>(current);
    List<TrainingListener> with = new ArrayList<>(own);
    with.add(listener);
    network.setListeners(with);
    try {
      training.run();
    } finally {
      network.setListeners(own);
    }
  }

  /**
   * Returns the score (loss) of the last minibatch trained on.
   *
   * @return the network's current score
   */
  public double lastScore() {
    return network.score();
  }

  /**
   * Computes the mean loss over a data set, without training.
   *
   * @param data the examples
   * @return the loss averaged over the examples
   */
  public double loss(org.nd4j.linalg.dataset.DataSet data) {
    return multiLayer != null ? multiLayer.score(data, false) : graph.score(data, false);
  }

  /**
   * Computes classification metrics over every minibatch of the iterator.
   *
   * @param batches the evaluation minibatches
   * @return DL4J's evaluation (accuracy, precision, ...)
   */
  public Evaluation classificationEvaluation(DataSetIterator batches) {
    return multiLayer != null ? multiLayer.evaluate(batches) : graph.evaluate(batches);
  }
}
