package dev.flops.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.Metrics;
import dev.flops.api.Parameters;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.listeners.ScoreIterationListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

class Dl4jTrainerTest {

  private static final int TRAIN_SIZE = 64;
  private static final int TEST_SIZE = 30;

  /**
   * Two well separated Gaussian blobs in 4 dimensions (centres at +1.5 and -1.5 on every axis,
   * sd 0.5): a linear boundary separates them, so a small network learns them in a few epochs.
   */
  private static DataSet separable(int examples, long seed) {
    Random random = new Random(seed);
    float[][] features = new float[examples][4];
    float[][] labels = new float[examples][2];
    for (int i = 0; i < examples; i++) {
      int label = random.nextBoolean() ? 1 : 0;
      for (int j = 0; j < 4; j++) {
        features[i][j] = (label == 0 ? 1.5f : -1.5f) + (float) random.nextGaussian() * 0.5f;
      }
      labels[i][label] = 1f;
    }
    return new DataSet(Nd4j.create(features), Nd4j.create(labels));
  }

  private static Dl4jTrainer trainer(MultiLayerNetwork net) {
    return Dl4jTrainer.builder(Dl4jModel.of(net))
        .trainData(() -> separable(TRAIN_SIZE, 1))
        .testData(() -> separable(TEST_SIZE, 2))
        .batchSize(16)
        .build();
  }

  private static Dl4jTrainer preparedTrainer(MultiLayerNetwork net) throws Exception {
    Dl4jTrainer trainer = trainer(net);
    trainer.prepare();
    return trainer;
  }

  @Test
  void fit_returnsTrainingSizeAsNumExamplesAndTheTrainedParameters() throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);
    Parameters before = trainer.model().getParameters();

    FitResult result = trainer.fit(Config.empty());

    assertEquals(TRAIN_SIZE, result.numExamples());
    assertEquals(trainer.model().getParameters(), result.parameters());
    assertNotEquals(before, result.parameters());
    double trainLoss = result.metrics().get("train_loss");
    assertTrue(Double.isFinite(trainLoss) && trainLoss >= 0, "train_loss " + trainLoss);
  }

  @Test
  void evaluate_returnsAccuracyInUnitIntervalAndFiniteLoss() throws Exception {
    Dl4jTrainer trainer = preparedTrainer(Dl4jModelTest.smallNetwork());

    EvaluateResult result = trainer.evaluate(Config.empty());

    assertEquals(TEST_SIZE, result.numExamples());
    assertTrue(result.accuracy() >= 0 && result.accuracy() <= 1, "accuracy " + result.accuracy());
    assertTrue(Double.isFinite(result.loss()) && result.loss() >= 0, "loss " + result.loss());
    assertEquals(result.accuracy(), result.metrics().get(Metrics.ACCURACY));
  }

  @Test
  void fitThenEvaluate_learnsTheSeparableData() throws Exception {
    Dl4jTrainer trainer = preparedTrainer(Dl4jModelTest.smallNetwork());
    double lossBefore = trainer.evaluate(Config.empty()).loss();

    trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 30));
    EvaluateResult after = trainer.evaluate(Config.empty());

    assertTrue(after.loss() < lossBefore, "loss " + lossBefore + " -> " + after.loss());
    assertTrue(after.accuracy() >= 0.9, "accuracy " + after.accuracy());
  }

  @Test
  void fit_configEpochsAndBatchSize_decideTheNumberOfIterations() throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);

    trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 3, Dl4jTrainer.BATCH_SIZE, 16));

    // 3 epochs of 64 / 16 = 4 minibatches
    assertEquals(12, net.getIterationCount());
    assertEquals(3, net.getEpochCount());
  }

  @Test
  void fit_everyFitStartsAFreshOptimizerState() throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);

    trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 2));
    trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 1));

    // counts restart from 0 each fit: only the second fit's 64 / 16 = 4 minibatches remain
    assertEquals(4, net.getIterationCount());
  }

  @Test
  void fit_batchLargerThanTheData_trainsOnOneBatchPerEpoch() throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);

    FitResult result = trainer.fit(Config.of(Dl4jTrainer.BATCH_SIZE, 1000, Dl4jTrainer.LOCAL_EPOCHS, 2));

    assertEquals(TRAIN_SIZE, result.numExamples());
    assertEquals(2, net.getIterationCount());
  }

  @Test
  void fit_beforePrepare_throwsIllegalState() {
    Dl4jTrainer trainer = trainer(Dl4jModelTest.smallNetwork());

    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> trainer.fit(Config.empty()));

    assertTrue(e.getMessage().contains("prepare()"), e.getMessage());
  }

  @Test
  void evaluate_beforePrepare_throwsIllegalState() {
    Dl4jTrainer trainer = trainer(Dl4jModelTest.smallNetwork());

    assertThrows(IllegalStateException.class, () -> trainer.evaluate(Config.empty()));
  }

  @Test
  void fit_zeroLocalEpochs_throwsNamingTheKey() throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);
    Parameters before = trainer.model().getParameters();

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 0)));

    assertTrue(e.getMessage().contains("local_epochs"), e.getMessage());
    assertTrue(e.getMessage().contains("0"), e.getMessage());
    assertEquals(before, trainer.model().getParameters());
  }

  @Test
  void fit_zeroBatchSize_throwsNamingTheKey() throws Exception {
    Dl4jTrainer trainer = preparedTrainer(Dl4jModelTest.smallNetwork());

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> trainer.fit(Config.of(Dl4jTrainer.BATCH_SIZE, 0)));

    assertTrue(e.getMessage().contains("batch_size"), e.getMessage());
  }

  @Test
  void fit_nonIntegerLocalEpochs_throwsNamingTheKey() throws Exception {
    Dl4jTrainer trainer = preparedTrainer(Dl4jModelTest.smallNetwork());

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 1.5)));

    assertTrue(e.getMessage().contains("local_epochs"), e.getMessage());
  }

  @Test
  void prepare_callsEachLoaderOnce() throws Exception {
    AtomicInteger trainLoads = new AtomicInteger();
    AtomicInteger testLoads = new AtomicInteger();
    Dl4jTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(Dl4jModelTest.smallNetwork()))
        .trainData(() -> {
          trainLoads.incrementAndGet();
          return separable(TRAIN_SIZE, 1);
        })
        .testData(() -> {
          testLoads.incrementAndGet();
          return separable(TEST_SIZE, 2);
        })
        .build();

    trainer.prepare();
    trainer.fit(Config.empty());
    trainer.evaluate(Config.empty());

    assertEquals(1, trainLoads.get());
    assertEquals(1, testLoads.get());
  }

  @Test
  void prepare_loaderReturningNull_throws() {
    Dl4jTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(Dl4jModelTest.smallNetwork()))
        .trainData(() -> null)
        .testData(() -> separable(TEST_SIZE, 2))
        .build();

    NullPointerException e = assertThrows(NullPointerException.class, trainer::prepare);

    assertTrue(e.getMessage().contains("training data"), e.getMessage());
  }

  @Test
  void prepare_emptyTrainingData_throwsSayingSo() {
    DataSet empty = new DataSet(Nd4j.create(DataType.FLOAT, 0, 4), Nd4j.create(DataType.FLOAT, 0, 2));
    Dl4jTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(Dl4jModelTest.smallNetwork()))
        .trainData(() -> empty)
        .testData(() -> separable(TEST_SIZE, 2))
        .build();

    IllegalStateException e = assertThrows(IllegalStateException.class, trainer::prepare);

    assertTrue(e.getMessage().contains("training data"), e.getMessage());
  }

  @Test
  void build_withoutLoaders_throwsNamingWhatToAdd() {
    Dl4jModel model = Dl4jModel.of(Dl4jModelTest.smallNetwork());

    IllegalStateException noTrain = assertThrows(IllegalStateException.class,
        () -> Dl4jTrainer.builder(model).testData(() -> separable(4, 1)).build());
    IllegalStateException noTest = assertThrows(IllegalStateException.class,
        () -> Dl4jTrainer.builder(model).trainData(() -> separable(4, 1)).build());

    assertTrue(noTrain.getMessage().contains("trainData"), noTrain.getMessage());
    assertTrue(noTest.getMessage().contains("testData"), noTest.getMessage());
  }

  @Test
  void builder_nonPositiveDefaults_throwNamingKnobAndValue() {
    Dl4jTrainer.Builder builder = Dl4jTrainer.builder(Dl4jModel.of(Dl4jModelTest.smallNetwork()));

    IllegalArgumentException epochs =
        assertThrows(IllegalArgumentException.class, () -> builder.localEpochs(0));
    IllegalArgumentException batch =
        assertThrows(IllegalArgumentException.class, () -> builder.batchSize(-2));

    assertTrue(epochs.getMessage().contains("localEpochs") && epochs.getMessage().contains("0"));
    assertTrue(batch.getMessage().contains("batchSize") && batch.getMessage().contains("-2"));
  }

  @Test
  void model_isTheWrappedModel() {
    Dl4jModel model = Dl4jModel.of(Dl4jModelTest.smallNetwork());

    Dl4jTrainer trainer = Dl4jTrainer.builder(model)
        .trainData(() -> separable(4, 1)).testData(() -> separable(4, 2)).build();

    assertSame(model, trainer.model());
  }
  /** ||w - w_g|| over all parameters after a fit of 5 epochs from the same start and data. */
  private static double distanceFromGlobalAfterFit(Config config) throws Exception {
    MultiLayerNetwork net = Dl4jModelTest.smallNetwork();
    Dl4jTrainer trainer = preparedTrainer(net);
    INDArray global = net.params().dup();

    trainer.fit(config.with(Dl4jTrainer.LOCAL_EPOCHS, 5));

    return net.params().sub(global).norm2Number().doubleValue();
  }

  @Test
  void fit_proximalMu_keepsTheModelNearTheGlobalParameters() throws Exception {
    double plain = distanceFromGlobalAfterFit(Config.empty());
    double proximal = distanceFromGlobalAfterFit(Config.of(Dl4jTrainer.PROXIMAL_MU, 1.0));
    double huge = distanceFromGlobalAfterFit(Config.of(Dl4jTrainer.PROXIMAL_MU, 1e4));

    // measured: 2.75 without the term, 0.90 with mu 1, 0.054 with mu 1e4
    assertTrue(proximal < 0.5 * plain, "mu 1: " + proximal + ", mu 0: " + plain);
    assertTrue(huge < 0.05 * plain, "mu 1e4: " + huge + ", mu 0: " + plain);
  }

  @Test
  void fit_proximalMuOnAComputationGraph_keepsItNearTheGlobalParameters() throws Exception {
    double[] distances = new double[2];
    double[] mus = {0, 1e4};
    for (int i = 0; i < mus.length; i++) {
      ComputationGraph graph = Dl4jModelTest.smallGraph();
      Dl4jTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(graph))
          .trainData(() -> separable(TRAIN_SIZE, 1)).testData(() -> separable(TEST_SIZE, 2))
          .batchSize(16).build();
      trainer.prepare();
      INDArray global = graph.params().dup();

      trainer.fit(Config.of(Dl4jTrainer.LOCAL_EPOCHS, 3, Dl4jTrainer.PROXIMAL_MU, mus[i]));

      distances[i] = graph.params().sub(global).norm2Number().doubleValue();
    }

    assertTrue(distances[1] < 0.1 * distances[0], "mu 1e4: " + distances[1] + ", mu 0: "
        + distances[0]);
  }

  @Test
  void fit_withoutProximalMuOrWithZero_trainsExactlyAsBefore_andLeavesTheListenersAlone()
      throws Exception {
    MultiLayerNetwork plain = Dl4jModelTest.smallNetwork();
    MultiLayerNetwork zero = Dl4jModelTest.smallNetwork();
    MultiLayerNetwork proximal = Dl4jModelTest.smallNetwork();
    ScoreIterationListener own = new ScoreIterationListener(1000);
    proximal.setListeners(own);

    preparedTrainer(plain).fit(Config.empty());
    preparedTrainer(zero).fit(Config.of(Dl4jTrainer.PROXIMAL_MU, 0.0));
    preparedTrainer(proximal).fit(Config.of(Dl4jTrainer.PROXIMAL_MU, 0.5));

    assertEquals(plain.params(), zero.params());
    assertNotEquals(plain.params(), proximal.params());
    assertEquals(List.of(own), List.copyOf(proximal.getListeners()),
        "the proximal term's listener is gone after the fit; the user's own stays");
  }

  @Test
  void fit_negativeProximalMu_throwsNamingTheKey_beforeTraining() throws Exception {
    Dl4jTrainer trainer = preparedTrainer(Dl4jModelTest.smallNetwork());
    Parameters before = trainer.model().getParameters();

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> trainer.fit(Config.of(Dl4jTrainer.PROXIMAL_MU, -0.1)));

    assertTrue(e.getMessage().contains("proximal_mu") && e.getMessage().contains("-0.1"),
        e.getMessage());
    assertEquals(before, trainer.model().getParameters());
  }
}
