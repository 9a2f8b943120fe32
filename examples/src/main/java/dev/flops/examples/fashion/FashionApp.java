package dev.flops.examples.fashion;

import dev.flops.aggregator.AppPlan;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.api.FederatedModel;
import dev.flops.api.LocalTrainer;
import dev.flops.api.app.FederatedApp;
import dev.flops.api.app.LearnerContext;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Fashion-MNIST federation as a {@link FederatedApp}, declared in this module's
 * {@code META-INF/services/dev.flops.api.app.FederatedApp}, so that the generic mains run it from
 * the examples jar:
 *
 * <pre>
 * bin/flops aggregator --app examples/target/examples-VERSION.jar --rounds 3
 * bin/flops learner --app examples/target/examples-VERSION.jar --aggregator 127.0.0.1:50051 \
 *     --data /usr/share/datasets/fashion-mnist --data-tags iid --index 0 --learners 3
 * </pre>
 *
 * <p>The model is the MLP of {@link FashionAggregatorMain} (seed 42), the strategy FedAvg with one
 * local epoch at batch size 64 and a central evaluation after every round on the test set of
 * {@value #DATA_ENV} (a directory with the four IDX files) if set, else the installed package,
 * else the embedded 2,000-image subset. The plan: 3 rounds once 3 learners are connected.
 *
 * <p>A learner's data directory holds the four IDX {@code .gz} files; it takes share
 * {@code index} of {@code count} of both splits. Its data tags, each optional: a partitioning
 * ({@value Partitioning#ACCEPTED_FORMS}; default iid), {@code train-limit=N} and
 * {@code test-limit=N} (only the first N images of the split, before partitioning).
 */
public final class FashionApp implements FederatedApp, AppPlan {

  /** The environment variable naming the aggregator's central test set's directory. */
  public static final String DATA_ENV = "FASHION_MNIST_DIR";

  private static final String TRAIN_LIMIT = "train-limit=";
  private static final String TEST_LIMIT = "test-limit=";
  private static final long SEED = 42;
  private static final Logger log = LoggerFactory.getLogger(FashionApp.class);

  @Override
  public String name() {
    return FashionMnist.EXPERIMENT;
  }

  @Override
  public FederatedModel newModel() {
    return new FashionOptions().newModel();
  }

  @Override
  public LocalTrainer newTrainer(LearnerContext context) {
    FashionOptions options = new FashionOptions();
    options.data.dataDir = context.dataDirectory();
    options.learners = context.count();
    options.seed = SEED;
    for (String tag : context.dataTags()) {
      if (tag.startsWith(TRAIN_LIMIT)) {
        options.data.trainLimit = limit(tag, TRAIN_LIMIT);
      } else if (tag.startsWith(TEST_LIMIT)) {
        options.data.testLimit = limit(tag, TEST_LIMIT);
      } else {
        try {
          Partitioning.parse(tag);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("unknown data tag '" + tag + "'; the Fashion app "
              + "takes a partitioning (" + Partitioning.ACCEPTED_FORMS + "), " + TRAIN_LIMIT
              + "N and " + TEST_LIMIT + "N");
        }
        options.partition = tag;
      }
    }
    options.validate();
    // Checked here rather than by the loader, whose advice (install the package or omit
    // --data-dir) is for the fashion mains: a learner's --data has no fallback.
    List<String> missing = FashionMnist.Loader.missingFiles(context.dataDirectory());
    if (!missing.isEmpty()) {
      throw new UncheckedIOException("the Fashion-MNIST data directory "
          + context.dataDirectory() + " (--data) lacks " + String.join(", ", missing)
          + ": put the four IDX files there or give --data a directory that holds them (`"
          + FashionMnist.INSTALL_COMMAND + "` installs them under " + FashionMnist.SYSTEM_DIR
          + ")", new FileNotFoundException(context.dataDirectory().toString()));
    }
    try {
      return options.trainer(options.load(), context.index());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Fashion-MNIST from " + context.dataDirectory()
          + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Strategy strategy() {
    FashionOptions options = new FashionOptions();
    String dir = System.getenv(DATA_ENV);
    CentralTestSet central;
    try {
      FashionMnist data = FashionMnist.loader()
          .dataDir(dir == null || dir.isBlank() ? null : Path.of(dir))
          .limitTrain(1)
          .load();
      central = new CentralTestSet(options.newModel(), data.test());
      // Said because the learners' --data does not reach the aggregator: its test set may differ.
      log.info("central evaluation on the {} test images at {} (the aggregator's own: set {} to "
          + "choose them)", central.examples(), data.source().location(), DATA_ENV);
    } catch (Exception e) {
      throw new IllegalStateException("cannot load the central test set"
          + (dir == null ? "" : " from " + DATA_ENV + "=" + dir) + ": " + e.getMessage(), e);
    }
    return FashionStrategy.fedAvg(options.localEpochs, options.batchSize, central).build();
  }

  @Override
  public TrainingPlan.Builder plan(TrainingPlan.Builder defaults) {
    return defaults.rounds(3).minAvailableLearners(3);
  }

  private static int limit(String tag, String prefix) {
    String value = tag.substring(prefix.length());
    try {
      int limit = Integer.parseInt(value);
      if (limit >= 1) {
        return limit;
      }
    } catch (NumberFormatException e) {
      // reported below, with the tag
    }
    throw new IllegalArgumentException("data tag '" + tag + "' needs a whole number of at least "
        + "1 after '" + prefix + "', e.g. " + prefix + "600");
  }
}
