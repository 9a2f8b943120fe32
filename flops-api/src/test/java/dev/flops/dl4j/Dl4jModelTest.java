package dev.flops.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.ParameterMismatchException;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

class Dl4jModelTest {

  /** Dense 4→3 relu, softmax output 3→2, Adam; parameters 0_W [4,3], 0_b [3], 1_W [3,2], 1_b [2]. */
  static MultiLayerNetwork smallNetwork(long seed, DataType dataType) {
    return smallNetwork(seed, dataType, new Adam(0.05));
  }

  /** The same network with another updater. */
  static MultiLayerNetwork smallNetwork(long seed, DataType dataType, IUpdater updater) {
    MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
        .seed(seed)
        .dataType(dataType)
        .updater(updater)
        .weightInit(WeightInit.XAVIER)
        .list()
        .layer(new DenseLayer.Builder().nIn(4).nOut(3).activation(Activation.RELU).build())
        .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nIn(3).nOut(2).activation(Activation.SOFTMAX).build())
        .build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    return net;
  }

  static MultiLayerNetwork smallNetwork() {
    return smallNetwork(42, DataType.FLOAT);
  }

  static ComputationGraph smallGraph() {
    return smallGraph("hidden", "out");
  }

  static ComputationGraph smallGraph(String hiddenName, String outputName) {
    ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
        .seed(7)
        .updater(new Adam(0.05))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .addLayer(hiddenName, new DenseLayer.Builder().nIn(4).nOut(3)
            .activation(Activation.RELU).build(), "in")
        .addLayer(outputName, new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nIn(3).nOut(2).activation(Activation.SOFTMAX).build(), hiddenName)
        .setOutputs(outputName)
        .build();
    ComputationGraph graph = new ComputationGraph(conf);
    graph.init();
    return graph;
  }

  /** A few examples of 4 features and one-hot 2-class labels, enough to move the weights. */
  static DataSet someData(int examples, long seed) {
    Random random = new Random(seed);
    float[][] features = new float[examples][4];
    float[][] labels = new float[examples][2];
    for (int i = 0; i < examples; i++) {
      int label = i % 2;
      for (int j = 0; j < 4; j++) {
        features[i][j] = (label == 0 ? 1.5f : -1.5f) + (float) random.nextGaussian() * 0.5f;
      }
      labels[i][label] = 1f;
    }
    return new DataSet(Nd4j.create(features), Nd4j.create(labels));
  }

  /** A copy of every parameter, to compare before and after an operation. */
  private static INDArray snapshot(Model network) {
    return network.params().dup();
  }

  private static Parameters randomParameters(Parameters like, long seed) {
    Random random = new Random(seed);
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : like) {
      float[] values = new float[Math.toIntExact(tensor.elementCount())];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) random.nextGaussian();
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  /** Checks names, order, shapes and every value against the table, in row-major order. */
  private static void assertMatchesParamTable(Map<String, INDArray> table, Parameters parameters) {
    assertEquals(List.copyOf(table.keySet()), parameters.names());
    for (Tensor tensor : parameters) {
      INDArray expected = table.get(tensor.name());
      assertArrayEquals(expected.shape(), tensor.shape(), tensor.name());
      float[] values = tensor.toFloatArray();
      if (expected.rank() == 1) {
        for (int i = 0; i < expected.length(); i++) {
          assertEquals((float) expected.getDouble(i), values[i], tensor.name() + "[" + i + "]");
        }
      } else {
        assertEquals(2, expected.rank(), "these networks only hold vectors and matrices");
        long columns = expected.columns();
        for (int i = 0; i < expected.rows(); i++) {
          for (int j = 0; j < columns; j++) {
            assertEquals((float) expected.getDouble(i, j), values[(int) (i * columns + j)],
                tensor.name() + "[" + i + "][" + j + "]");
          }
        }
      }
    }
  }

  // ---- structure and values ----

  @Test
  void multiLayer_tensorNamesAndShapes_followTheParamTableInOrder() {
    MultiLayerNetwork net = smallNetwork();

    Parameters parameters = Dl4jModel.of(net).getParameters();

    assertEquals(List.copyOf(net.paramTable().keySet()), parameters.names());
    assertEquals(List.of("0_W", "0_b", "1_W", "1_b"), parameters.names());
    assertArrayEquals(new long[] {4, 3}, parameters.get("0_W").shape());
    assertArrayEquals(new long[] {3}, parameters.get("0_b").shape());
    assertArrayEquals(new long[] {3, 2}, parameters.get("1_W").shape());
    assertArrayEquals(new long[] {2}, parameters.get("1_b").shape());
    assertEquals(net.numParams(), parameters.elementCount());
  }

  @Test
  void multiLayer_values_matchTheParamTableInRowMajorOrder() {
    MultiLayerNetwork net = smallNetwork();
    // Make the biases non-zero too, so that every tensor's values say something.
    net.fit(someData(16, 1));

    Parameters parameters = Dl4jModel.of(net).getParameters();

    assertMatchesParamTable(net.paramTable(), parameters);
    INDArray w = net.getParam("0_W");
    assertEquals((float) w.getDouble(2, 1), parameters.get("0_W").toFloatArray()[2 * 3 + 1]);
    assertEquals((float) w.getDouble(1, 2), parameters.get("0_W").toFloatArray()[1 * 3 + 2]);
  }

  @Test
  void graph_tensorNamesShapesAndValues_matchTheParamTable() {
    ComputationGraph graph = smallGraph();

    Parameters parameters = Dl4jModel.of(graph).getParameters();

    assertEquals(List.of("hidden_W", "hidden_b", "out_W", "out_b"), parameters.names());
    assertMatchesParamTable(graph.paramTable(), parameters);
  }

  @Test
  void doubleNetwork_isReadAsFloat32() {
    MultiLayerNetwork net = smallNetwork(42, DataType.DOUBLE);

    Parameters parameters = Dl4jModel.of(net).getParameters();

    assertMatchesParamTable(net.paramTable(), parameters);
  }

  // ---- set / get ----

  @Test
  void multiLayer_setThenGet_roundTripsExactly() {
    MultiLayerNetwork net = smallNetwork();
    Dl4jModel model = Dl4jModel.of(net);
    Parameters wanted = randomParameters(model.getParameters(), 3);

    model.setParameters(wanted);

    assertEquals(wanted, model.getParameters());
    // and the values landed where their names and row-major positions say
    assertMatchesParamTable(net.paramTable(), wanted);
  }

  @Test
  void keepsNoParameters_setCopiesIn_getCopiesOut_forBothNetworkKinds() {
    // What keepsParameters() == false promises: once set, the given buffers may be overwritten
    // (or freed, as the aggregator does) without the network or an earlier get seeing it.
    for (Dl4jModel model : List.of(Dl4jModel.of(smallNetwork()), Dl4jModel.of(smallGraph()))) {
      String net = model.network().getClass().getSimpleName();
      assertFalse(model.keepsParameters());
      Parameters given = randomParameters(model.getParameters(), 5);
      List<java.nio.ByteBuffer> owned = new ArrayList<>();
      List<Tensor> direct = new ArrayList<>();
      for (Tensor tensor : given) {
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect(
            (int) tensor.byteSize()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        buffer.put(tensor.data().duplicate()).flip();
        owned.add(buffer);
        direct.add(new Tensor(tensor.name(), tensor.dtype(), tensor.shape(), buffer));
      }
      model.setParameters(new Parameters(direct));
      Parameters got = model.getParameters();

      for (java.nio.ByteBuffer buffer : owned) {
        while (buffer.hasRemaining()) {
          buffer.put((byte) 0x7f); // NaN-like garbage in every float
        }
      }
      assertEquals(given, model.getParameters(), net + " copied in");
      assertEquals(given, got, net + " copied out");
    }
  }

  @Test
  void graph_setThenGet_roundTripsExactly() {
    ComputationGraph graph = smallGraph();
    Dl4jModel model = Dl4jModel.of(graph);
    Parameters wanted = randomParameters(model.getParameters(), 4);

    model.setParameters(wanted);

    assertEquals(wanted, model.getParameters());
    assertMatchesParamTable(graph.paramTable(), wanted);
  }

  @Test
  void graph_layerNamesWithUnderscores_setThenGetRoundTrips() {
    // Keras-style names: the tensor names become dense_1_W, dense_1_b, ...
    ComputationGraph graph = smallGraph("dense_1", "output_layer");
    Dl4jModel model = Dl4jModel.of(graph);
    Parameters wanted = randomParameters(model.getParameters(), 10);

    model.setParameters(wanted);

    assertEquals(List.of("dense_1_W", "dense_1_b", "output_layer_W", "output_layer_b"),
        wanted.names());
    assertEquals(wanted, model.getParameters());
  }

  @Test
  void doubleNetwork_setThenGet_roundTripsExactly() {
    Dl4jModel model = Dl4jModel.of(smallNetwork(42, DataType.DOUBLE));
    Parameters wanted = randomParameters(model.getParameters(), 5);

    model.setParameters(wanted);

    assertEquals(wanted, model.getParameters());
  }

  @Test
  void setParameters_takesTheParametersFromAnotherNetwork() {
    MultiLayerNetwork source = smallNetwork(1, DataType.FLOAT);
    MultiLayerNetwork target = smallNetwork(2, DataType.FLOAT);
    assertNotEquals(source.params(), target.params());

    Dl4jModel.of(target).setParameters(Dl4jModel.of(source).getParameters());

    assertEquals(source.params(), target.params());
  }

  @Test
  void setParameters_wrongShape_throwsAndLeavesTheNetworkUnchanged() {
    MultiLayerNetwork net = smallNetwork();
    Dl4jModel model = Dl4jModel.of(net);
    INDArray before = snapshot(net);
    List<Tensor> tensors = new ArrayList<>(randomParameters(model.getParameters(), 6).tensors());
    // the last tensor, 1_b, is a vector of 2; the first three are valid and must not be applied
    tensors.set(3, Tensor.ofFloats("1_b", new long[] {2, 1}, new float[] {1f, 2f}));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> model.setParameters(new Parameters(tensors)));

    assertTrue(e.getMessage().contains("1_b FLOAT32[2]"), e.getMessage());
    assertTrue(e.getMessage().contains("1_b FLOAT32[2, 1]"), e.getMessage());
    assertEquals(before, net.params());
  }

  @Test
  void setParameters_missingTensor_throwsAndLeavesTheNetworkUnchanged() {
    MultiLayerNetwork net = smallNetwork();
    Dl4jModel model = Dl4jModel.of(net);
    INDArray before = snapshot(net);
    List<Tensor> tensors = new ArrayList<>(randomParameters(model.getParameters(), 7).tensors());
    tensors.remove(3);

    // Its own type, so that a learner reports a model unlike the aggregator's, not an error.
    ParameterMismatchException e = assertThrows(ParameterMismatchException.class,
        () -> model.setParameters(new Parameters(tensors)));

    assertTrue(e.getMessage().contains("expected 4 tensors"), e.getMessage());
    assertEquals(before, net.params());
  }

  @Test
  void graph_setParameters_wrongName_throwsAndLeavesTheGraphUnchanged() {
    ComputationGraph graph = smallGraph();
    Dl4jModel model = Dl4jModel.of(graph);
    INDArray before = snapshot(graph);
    List<Tensor> tensors = new ArrayList<>(randomParameters(model.getParameters(), 8).tensors());
    Tensor outB = tensors.get(3);
    tensors.set(3, Tensor.ofFloats("output_b", outB.shape(), outB.toFloatArray()));

    assertThrows(ParameterMismatchException.class,
        () -> model.setParameters(new Parameters(tensors)));

    assertEquals(before, graph.params());
  }

  // ---- snapshot semantics ----

  @Test
  void getParameters_isASnapshotUnchangedByLaterTraining() {
    MultiLayerNetwork net = smallNetwork();
    Dl4jModel model = Dl4jModel.of(net);
    Parameters earlier = model.getParameters();
    List<float[]> earlierValues = new ArrayList<>();
    earlier.forEach(tensor -> earlierValues.add(tensor.toFloatArray()));

    for (int i = 0; i < 3; i++) {
      net.fit(someData(16, i));
    }

    for (int i = 0; i < earlier.size(); i++) {
      assertArrayEquals(earlierValues.get(i), earlier.tensors().get(i).toFloatArray(),
          earlier.tensors().get(i).name());
    }
    assertNotEquals(earlier, model.getParameters(), "training should have moved the weights");
  }

  @Test
  void setParameters_doesNotKeepAReferenceToItsInput() {
    MultiLayerNetwork net = smallNetwork();
    Dl4jModel model = Dl4jModel.of(net);
    Parameters given = randomParameters(model.getParameters(), 9);
    model.setParameters(given);

    net.fit(someData(16, 2));

    assertEquals(randomParameters(model.getParameters(), 9), given);
    assertNotEquals(given, model.getParameters());
  }

  // ---- optimizer ----

  private static void assertAllZero(INDArray array) {
    assertEquals(0.0, array.amaxNumber().doubleValue(), "max |state| = " + array.amaxNumber());
  }

  @Test
  void multiLayer_resetOptimizer_zeroesTheUpdaterStateAndCounters() {
    MultiLayerNetwork net = smallNetwork();
    net.fit(someData(16, 3));
    net.fit(someData(16, 4));
    INDArray state = net.getUpdater(false).getStateViewArray();
    assertNotNull(state);
    assertNotEquals(0.0, state.amaxNumber().doubleValue(), "Adam should have non-zero moments");
    assertEquals(2, net.getIterationCount());
    INDArray paramsBefore = snapshot(net);

    Dl4jModel.of(net).resetOptimizer();

    assertAllZero(net.getUpdater(false).getStateViewArray());
    assertEquals(0, net.getIterationCount());
    assertEquals(0, net.getEpochCount());
    assertEquals(paramsBefore, net.params(), "resetting the optimizer must not touch the weights");
  }

  @Test
  void graph_resetOptimizer_zeroesTheUpdaterStateAndCounters() {
    ComputationGraph graph = smallGraph();
    graph.fit(someData(16, 3));
    INDArray state = graph.getUpdater(false).getStateViewArray();
    assertNotEquals(0.0, state.amaxNumber().doubleValue(), "Adam should have non-zero moments");

    Dl4jModel.of(graph).resetOptimizer();

    assertAllZero(graph.getUpdater(false).getStateViewArray());
    assertEquals(0, graph.getIterationCount());
    assertEquals(0, graph.getEpochCount());
  }

  @Test
  void resetOptimizer_beforeAnyTraining_doesNothingHarmful() {
    MultiLayerNetwork net = smallNetwork();
    INDArray before = snapshot(net);

    Dl4jModel.of(net).resetOptimizer();
    net.fit(someData(16, 5));

    assertFalse(before.equals(net.params()));
  }

  @Test
  void resetOptimizer_makesTrainingRepeatable() {
    // Two identical starts trained on the same data, one after an earlier unrelated training run
    // and a reset: with the optimiser state truly reset, both land on the same weights.
    MultiLayerNetwork fresh = smallNetwork();
    MultiLayerNetwork reused = smallNetwork();
    Dl4jModel freshModel = Dl4jModel.of(fresh);
    Dl4jModel reusedModel = Dl4jModel.of(reused);
    Parameters start = freshModel.getParameters();
    reused.fit(someData(16, 11));
    reused.fit(someData(16, 12));

    reusedModel.setParameters(start);
    reusedModel.resetOptimizer();
    freshModel.resetOptimizer();
    DataSet data = someData(16, 13);
    fresh.fit(data);
    fresh.fit(data);
    reused.fit(data);
    reused.fit(data);

    Parameters a = freshModel.getParameters();
    Parameters b = reusedModel.getParameters();
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(a.tensors().get(i).toFloatArray(), b.tensors().get(i).toFloatArray(), 1e-6f,
          a.tensors().get(i).name());
    }
  }

  // ---- wrapping ----

  @Test
  void network_returnsTheWrappedInstance() {
    MultiLayerNetwork net = smallNetwork();
    ComputationGraph graph = smallGraph();

    assertSame(net, Dl4jModel.of(net).network());
    assertSame(graph, Dl4jModel.of(graph).network());
  }

  @Test
  void of_uninitialisedNetwork_throwsTellingToCallInit() {
    MultiLayerNetwork net = new MultiLayerNetwork(smallNetwork().getLayerWiseConfigurations());

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Dl4jModel.of(net));

    assertTrue(e.getMessage().contains("init()"), e.getMessage());
  }

  @Test
  void of_uninitialisedGraph_throwsTellingToCallInit() {
    ComputationGraph graph = new ComputationGraph(smallGraph().getConfiguration());

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Dl4jModel.of(graph));

    assertTrue(e.getMessage().contains("init()"), e.getMessage());
  }

  @Test
  void loss_isFiniteAndPositive() {
    Dl4jModel model = Dl4jModel.of(smallNetwork());

    double loss = model.loss(someData(8, 1));

    assertTrue(Double.isFinite(loss) && loss > 0, "loss " + loss);
  }
}
