package dev.flops.examples.fashion;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The example's model: an MLP 784-200 (ReLU)-10 (softmax), Adam 1e-3, as a
 * {@link MultiLayerNetwork} or as the same layers in a {@link ComputationGraph}.
 */
public final class Mlp {

  /** Input width: one 28x28 grey image, flattened. */
  public static final int INPUTS = 28 * 28;

  /** Hidden layer width. */
  public static final int HIDDEN = 200;

  private Mlp() {}

  /**
   * Builds and initialises the network. Every party builds it with the same seed, so the
   * aggregator's copy and the learners' networks start out identical (the aggregator's initial
   * parameters are sent to the learners anyway).
   *
   * @param seed the weight-initialisation seed
   * @return an initialised network
   */
  public static MultiLayerNetwork create(long seed) {
    MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
        .seed(seed)
        .updater(new Adam(1e-3))
        .weightInit(WeightInit.XAVIER)
        .list()
        .layer(new DenseLayer.Builder()
            .nIn(INPUTS).nOut(HIDDEN).activation(Activation.RELU).build())
        .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nIn(HIDDEN).nOut(FashionMnist.NUM_CLASSES).activation(Activation.SOFTMAX).build())
        .build();
    MultiLayerNetwork network = new MultiLayerNetwork(conf);
    network.init();
    return network;
  }

  /**
   * Builds and initialises the same MLP as a computation graph, with named layers
   * ({@code hidden_W}, {@code hidden_b}, {@code output_W}, {@code output_b}).
   *
   * @param seed the weight-initialisation seed
   * @return an initialised graph
   */
  public static ComputationGraph createGraph(long seed) {
    ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
        .seed(seed)
        .updater(new Adam(1e-3))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("pixels")
        .addLayer("hidden", new DenseLayer.Builder()
            .nIn(INPUTS).nOut(HIDDEN).activation(Activation.RELU).build(), "pixels")
        .addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
            .nIn(HIDDEN).nOut(FashionMnist.NUM_CLASSES).activation(Activation.SOFTMAX).build(),
            "hidden")
        .setOutputs("output")
        .build();
    ComputationGraph graph = new ComputationGraph(conf);
    graph.init();
    return graph;
  }
}
