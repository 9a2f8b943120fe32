package dev.flops.dl4j;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Metrics;
import dev.flops.api.strategy.FedProx;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.TestDataSetIterator;
import org.nd4j.linalg.dataset.adapter.SingletonDataSetIterator;

/**
 * A {@link LocalTrainer} for a DL4J network and in-memory local data: fits for a number of epochs
 * with a batch size, and evaluates loss and accuracy on held-out local data.
 *
 * <p>The round's fit config may override the defaults with {@value #LOCAL_EPOCHS} and
 * {@value #BATCH_SIZE}. Every fit starts with a fresh optimiser state from the global parameters.
 *
 * <p>With {@value #PROXIMAL_MU} = {@code μ > 0} in the fit config (sent by {@link FedProx}), local
 * training minimises the loss plus FedProx's proximal term {@code (μ/2)·‖w − w_g‖²}, {@code w_g}
 * being the global parameters the fit starts from: {@code μ·(w − w_g)} is added to every
 * minibatch's gradient before the network's updater (Adam, SGD...) turns it into a step. The fit
 * then holds two more copies of the parameters. Without the key, or with 0, training is exactly
 * as before.
 *
 * <pre>{@code
 * LocalTrainer trainer = Dl4jTrainer.builder(Dl4jModel.of(net))
 *     .trainData(() -> loadMyTrainingSet())
 *     .testData(() -> loadMyTestSet())
 *     .localEpochs(1)
 *     .batchSize(64)
 *     .build();
 * }</pre>
 */
public final class Dl4jTrainer implements LocalTrainer {

  /** Fit config key: number of local epochs. */
  public static final String LOCAL_EPOCHS = "local_epochs";
  /** Fit config key: minibatch size. */
  public static final String BATCH_SIZE = "batch_size";
  /**
   * Fit config key: the weight {@code μ} of FedProx's proximal term (Li et al. 2020), a number at
   * least 0; absent or 0, training is plain. {@link FedProx} sets it.
   */
  public static final String PROXIMAL_MU = FedProx.PROXIMAL_MU;

  private final Dl4jModel model;
  private final Callable<DataSet> trainLoader;
  private final Callable<DataSet> testLoader;
  private final int localEpochs;
  private final int batchSize;
  private final long shuffleSeed;
  private DataSet train;
  private DataSet test;
  private int fits;

  private Dl4jTrainer(Builder builder) {
    this.model = builder.model;
    this.trainLoader = builder.trainLoader;
    this.testLoader = builder.testLoader;
    this.localEpochs = builder.localEpochs;
    this.batchSize = builder.batchSize;
    this.shuffleSeed = builder.shuffleSeed;
  }

  /**
   * Returns a builder for a trainer of the given model.
   *
   * @param model the wrapped network
   * @return a new builder
   */
  public static Builder builder(Dl4jModel model) {
    return new Builder(model);
  }

  @Override
  public Dl4jModel model() {
    return model;
  }

  @Override
  public void prepare() throws Exception {
    train = Objects.requireNonNull(trainLoader.call(), "the training data loader returned null");
    test = Objects.requireNonNull(testLoader.call(), "the test data loader returned null");
    if (train.numExamples() == 0) {
      throw new IllegalStateException("the local training data holds no examples");
    }
    if (test.numExamples() == 0) {
      throw new IllegalStateException("the local test data holds no examples");
    }
  }

  @Override
  public FitResult fit(Config config) {
    requirePrepared();
    int epochs = config.getInt(LOCAL_EPOCHS, localEpochs);
    int batch = config.getInt(BATCH_SIZE, batchSize);
    if (epochs < 1 || batch < 1) {
      throw new IllegalArgumentException(String.format(
          "%s and %s must be at least 1 but were %d and %d", LOCAL_EPOCHS, BATCH_SIZE, epochs, batch));
    }
    double mu = config.getDouble(PROXIMAL_MU, 0);
    if (!(mu >= 0) || Double.isInfinite(mu)) {
      throw new IllegalArgumentException(PROXIMAL_MU + " must be a finite number of at least 0 "
          + "(0: no proximal term) but was " + mu);
    }
    model.resetOptimizer();
    Runnable training = () -> {
      for (int epoch = 0; epoch < epochs; epoch++) {
        train.shuffle(shuffleSeed + 1000L * fits + epoch);
        model.fitEpoch(batches(train, batch));
      }
    };
    if (mu > 0) {
      model.withListener(new ProximalTerm(mu, model.network().params()), training);
    } else {
      training.run();
    }
    fits++;
    return new FitResult(model.getParameters(), train.numExamples(),
        Map.of("train_loss", model.lastScore()));
  }

  @Override
  public EvaluateResult evaluate(Config config) {
    requirePrepared();
    int batch = config.getInt(BATCH_SIZE, batchSize);
    double accuracy = model.classificationEvaluation(batches(test, batch)).accuracy();
    double loss = model.loss(test);
    return new EvaluateResult(loss, test.numExamples(), Map.of(Metrics.ACCURACY, accuracy));
  }

  private void requirePrepared() {
    if (train == null) {
      throw new IllegalStateException("prepare() must load the data before fit or evaluate");
    }
  }

  private static DataSetIterator batches(DataSet data, int batchSize) {
    if (data.numExamples() <= batchSize) {
      return new SingletonDataSetIterator(data);
    }
    return new TestDataSetIterator(data, batchSize);
  }

  /** Builds a {@link Dl4jTrainer}; setters check their values at once. */
  public static final class Builder {
    private final Dl4jModel model;
    private Callable<DataSet> trainLoader;
    private Callable<DataSet> testLoader;
    private int localEpochs = 1;
    private int batchSize = 64;
    private long shuffleSeed = 42;

    private Builder(Dl4jModel model) {
      this.model = Objects.requireNonNull(model, "model");
    }

    /**
     * Sets how the local training data is loaded; called once, in {@link LocalTrainer#prepare()}.
     *
     * @param loader returns the features and one-hot labels to train on
     * @return this builder
     */
    public Builder trainData(Callable<DataSet> loader) {
      this.trainLoader = Objects.requireNonNull(loader, "trainData");
      return this;
    }

    /**
     * Sets how the local held-out data is loaded; called once, in {@link LocalTrainer#prepare()}.
     *
     * @param loader returns the features and one-hot labels to evaluate on
     * @return this builder
     */
    public Builder testData(Callable<DataSet> loader) {
      this.testLoader = Objects.requireNonNull(loader, "testData");
      return this;
    }

    /**
     * Sets the number of local epochs per fit when the config does not say (default 1).
     *
     * @param epochs at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code epochs} is below 1
     */
    public Builder localEpochs(int epochs) {
      if (epochs < 1) {
        throw new IllegalArgumentException("localEpochs must be at least 1 but was " + epochs);
      }
      this.localEpochs = epochs;
      return this;
    }

    /**
     * Sets the minibatch size when the config does not say (default 64).
     *
     * @param size at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code size} is below 1
     */
    public Builder batchSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("batchSize must be at least 1 but was " + size);
      }
      this.batchSize = size;
      return this;
    }

    /**
     * Sets the seed of the per-epoch shuffling (default 42).
     *
     * @param seed the seed
     * @return this builder
     */
    public Builder shuffleSeed(long seed) {
      this.shuffleSeed = seed;
      return this;
    }

    /**
     * Builds the trainer.
     *
     * @return the trainer
     * @throws IllegalStateException if the training or test data loader is missing
     */
    public Dl4jTrainer build() {
      if (trainLoader == null) {
        throw new IllegalStateException("Dl4jTrainer needs trainData(loader)");
      }
      if (testLoader == null) {
        throw new IllegalStateException("Dl4jTrainer needs testData(loader)");
      }
      return new Dl4jTrainer(this);
    }
  }
}
