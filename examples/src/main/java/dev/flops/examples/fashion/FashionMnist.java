package dev.flops.examples.fashion;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Fashion-MNIST data set (28x28 grey images of clothes, 10 classes), loaded into memory.
 *
 * <p>{@link #loader()} finds the four IDX files, in this order:
 *
 * <ol>
 *   <li>the directory given with {@link Loader#dataDir(Path)} (the {@code --data-dir} flag of the
 *       mains); if the files are not all there, loading fails with instructions;
 *   <li>{@link #SYSTEM_DIR}, where {@code apt-get install -y dataset-fashion-mnist} puts the full
 *       set (60000 train / 10000 test), if all four files are there;
 *   <li>the embedded subset on the classpath (the first 12000 train / 2000 test examples).
 * </ol>
 *
 * <pre>{@code
 * FashionMnist data = FashionMnist.loader().dataDir(dataDirOrNull).limitTrain(5000).load();
 * log.info("Data: {}", data.source().description());
 * DataSet local = data.train().toDataSet(shardIndices);
 * }</pre>
 *
 * @param source where the data came from and how much of it was loaded
 * @param train the training split
 * @param test the test split
 */
public record FashionMnist(Source source, Split train, Split test) {

  private static final Logger log = LoggerFactory.getLogger(FashionMnist.class);

  /** Number of classes; labels are in [0, 10). */
  public static final int NUM_CLASSES = 10;

  /** Image height and width in pixels. */
  public static final int IMAGE_SIDE = 28;

  /** Features per example: one per pixel. */
  public static final int NUM_FEATURES = IMAGE_SIDE * IMAGE_SIDE;

  /** Where the Debian package {@code dataset-fashion-mnist} installs the full data set. */
  public static final Path SYSTEM_DIR = Path.of("/usr/share/datasets/fashion-mnist");

  /** The MLflow experiment the Fashion-MNIST examples track into unless told otherwise. */
  public static final String EXPERIMENT = "fashion-mnist";

  /** The command that installs the full data set into {@link #SYSTEM_DIR}. */
  public static final String INSTALL_COMMAND = "apt-get install -y dataset-fashion-mnist";

  /** Training images file name. */
  public static final String TRAIN_IMAGES = "train-images-idx3-ubyte.gz";

  /** Training labels file name. */
  public static final String TRAIN_LABELS = "train-labels-idx1-ubyte.gz";

  /** Test images file name. */
  public static final String TEST_IMAGES = "t10k-images-idx3-ubyte.gz";

  /** Test labels file name. */
  public static final String TEST_LABELS = "t10k-labels-idx1-ubyte.gz";

  /** Classpath directory of the embedded subset, holding the same four file names. */
  static final String SUBSET_RESOURCE_DIR = "/dev/flops/examples/fashion/subset/";

  private static final List<String> FILES =
      List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS);

  /**
   * Checks that the parts are present.
   *
   * @throws NullPointerException if a part is null
   */
  public FashionMnist {
    Objects.requireNonNull(source, "source must not be null");
    Objects.requireNonNull(train, "train must not be null");
    Objects.requireNonNull(test, "test must not be null");
  }

  /**
   * Starts configuring a load.
   *
   * @return a loader with no data directory and no limits
   */
  public static Loader loader() {
    return new Loader();
  }

  /** Where a data set was loaded from. */
  public enum Origin {
    /** A directory named by the caller ({@code --data-dir}). */
    DATA_DIR,
    /** The Debian package's directory, {@link #SYSTEM_DIR}. */
    SYSTEM_PACKAGE,
    /** The subset shipped on the classpath. */
    EMBEDDED_SUBSET
  }

  /**
   * Where the data came from and how much of it was loaded, for logs.
   *
   * @param origin which of the three sources was used
   * @param location the directory, or the classpath resource directory of the embedded subset
   * @param trainLoaded training examples loaded
   * @param trainAvailable training examples in the source
   * @param testLoaded test examples loaded
   * @param testAvailable test examples in the source
   */
  public record Source(
      Origin origin,
      String location,
      int trainLoaded,
      int trainAvailable,
      int testLoaded,
      int testAvailable) {

    /**
     * Validates the counts.
     *
     * @throws IllegalArgumentException if a loaded count is negative or exceeds what is available
     */
    public Source {
      Objects.requireNonNull(origin, "origin must not be null");
      Objects.requireNonNull(location, "location must not be null");
      if (trainLoaded < 0 || trainLoaded > trainAvailable) {
        throw new IllegalArgumentException(
            String.format("trainLoaded %d not in [0, %d]", trainLoaded, trainAvailable));
      }
      if (testLoaded < 0 || testLoaded > testAvailable) {
        throw new IllegalArgumentException(
            String.format("testLoaded %d not in [0, %d]", testLoaded, testAvailable));
      }
    }

    /**
     * Describes the source for a log line, for example {@code "full Fashion-MNIST from
     * /usr/share/datasets/fashion-mnist (60000 train / 10000 test)"} or {@code "embedded subset
     * (3000 of 12000 train / 2000 test)"}.
     *
     * @return a one-line description
     */
    public String description() {
      String what =
          switch (origin) {
            case DATA_DIR -> "Fashion-MNIST from " + location;
            case SYSTEM_PACKAGE -> "full Fashion-MNIST from " + location;
            case EMBEDDED_SUBSET -> "embedded subset";
          };
      return String.format(
          "%s (%s train / %s test)",
          what, count(trainLoaded, trainAvailable), count(testLoaded, testAvailable));
    }

    private static String count(int loaded, int available) {
      return loaded == available ? Integer.toString(loaded) : loaded + " of " + available;
    }
  }

  /**
   * One split (train or test) held in memory.
   *
   * <p>The record takes ownership of both arrays without copying them (the full training features
   * take 188 MB): callers must not modify them.
   *
   * @param features {@code labels.length * 784} pixels scaled to [0, 1], example after example,
   *     row-major
   * @param labels class of each example, in [0, 10)
   */
  public record Split(float[] features, int[] labels) {

    /**
     * Validates the shapes and labels.
     *
     * @throws IllegalArgumentException if the array lengths disagree or a label is out of range
     */
    public Split {
      Objects.requireNonNull(features, "features must not be null");
      Objects.requireNonNull(labels, "labels must not be null");
      if (features.length != (long) labels.length * NUM_FEATURES) {
        throw new IllegalArgumentException(
            String.format(
                "%d labels need %d features (%d per example), got %d",
                labels.length, (long) labels.length * NUM_FEATURES, NUM_FEATURES, features.length));
      }
      for (int i = 0; i < labels.length; i++) {
        if (labels[i] < 0 || labels[i] >= NUM_CLASSES) {
          throw new IllegalArgumentException(
              String.format("label %d of example %d not in [0, %d)", labels[i], i, NUM_CLASSES));
        }
      }
    }

    /**
     * Builds a split from raw IDX images and labels, scaling pixels from [0, 255] to [0, 1].
     *
     * @param images 28x28 images
     * @param labels one label in [0, 10) per image
     * @return the split
     * @throws IllegalArgumentException if the images are not 28x28, the counts differ, or a label
     *     is out of range
     */
    public static Split of(IdxReader.IdxImages images, int[] labels) {
      if (images.rows() != IMAGE_SIDE || images.cols() != IMAGE_SIDE) {
        throw new IllegalArgumentException(
            String.format(
                "images must be %dx%d, got %dx%d",
                IMAGE_SIDE, IMAGE_SIDE, images.rows(), images.cols()));
      }
      if (images.count() != labels.length) {
        throw new IllegalArgumentException(
            String.format("%d images but %d labels", images.count(), labels.length));
      }
      byte[] pixels = images.pixels();
      float[] features = new float[pixels.length];
      for (int i = 0; i < pixels.length; i++) {
        features[i] = (pixels[i] & 0xFF) / 255f;
      }
      return new Split(features, labels);
    }

    /**
     * Returns the number of examples.
     *
     * @return {@code labels().length}
     */
    public int size() {
      return labels.length;
    }

    /**
     * Counts the examples of each class.
     *
     * @return an array of {@link #NUM_CLASSES} counts
     */
    public int[] classCounts() {
      int[] counts = new int[NUM_CLASSES];
      for (int label : labels) {
        counts[label]++;
      }
      return counts;
    }

    /**
     * Copies the chosen examples into a DL4J data set.
     *
     * @param indices example indices in [0, size()), in the order wanted; repeats are allowed
     * @return features {@code [n, 784]} float32 in [0, 1] and one-hot labels {@code [n, 10]}
     *     float32
     * @throws IllegalArgumentException if {@code indices} is empty or holds an index out of range
     */
    public DataSet toDataSet(int[] indices) {
      int n = indices.length;
      if (n == 0) {
        throw new IllegalArgumentException("indices must not be empty");
      }
      float[] x = new float[n * NUM_FEATURES];
      float[] y = new float[n * NUM_CLASSES];
      for (int row = 0; row < n; row++) {
        int example = indices[row];
        if (example < 0 || example >= labels.length) {
          throw new IllegalArgumentException(
              String.format(
                  "index %d at position %d not in [0, %d)", example, row, labels.length));
        }
        System.arraycopy(features, example * NUM_FEATURES, x, row * NUM_FEATURES, NUM_FEATURES);
        y[row * NUM_CLASSES + labels[example]] = 1f;
      }
      return new DataSet(
          Nd4j.create(x, new long[] {n, NUM_FEATURES}, DataType.FLOAT),
          Nd4j.create(y, new long[] {n, NUM_CLASSES}, DataType.FLOAT));
    }

    /**
     * Copies the whole split into a DL4J data set.
     *
     * @return features {@code [size(), 784]} and one-hot labels {@code [size(), 10]}
     * @throws IllegalArgumentException if the split is empty
     */
    public DataSet toDataSet() {
      int[] all = new int[labels.length];
      for (int i = 0; i < all.length; i++) {
        all[i] = i;
      }
      return toDataSet(all);
    }
  }

  /**
   * Configures and runs a load. Setters return {@code this}.
   *
   * <p>Not thread-safe; make one per load.
   */
  public static final class Loader {

    private Path dataDir;
    private Path systemDir = SYSTEM_DIR;
    private int limitTrain = Integer.MAX_VALUE;
    private int limitTest = Integer.MAX_VALUE;

    private Loader() {}

    /**
     * Names the directory holding the four files; if it lacks any, {@link #load()} fails rather
     * than falling back.
     *
     * @param dir the directory, or null for none (so a flag's absent value can be passed through)
     * @return this loader
     */
    public Loader dataDir(Path dir) {
      this.dataDir = dir;
      return this;
    }

    /** Overrides {@link #SYSTEM_DIR}, so tests can simulate an installed or missing package. */
    Loader systemDir(Path dir) {
      this.systemDir = Objects.requireNonNull(dir, "systemDir must not be null");
      return this;
    }

    /**
     * Loads at most this many training examples, the first ones of the file.
     *
     * @param limit at least 1
     * @return this loader
     * @throws IllegalArgumentException if {@code limit < 1}
     */
    public Loader limitTrain(int limit) {
      this.limitTrain = checkLimit("limitTrain", limit);
      return this;
    }

    /**
     * Loads at most this many test examples, the first ones of the file.
     *
     * @param limit at least 1
     * @return this loader
     * @throws IllegalArgumentException if {@code limit < 1}
     */
    public Loader limitTest(int limit) {
      this.limitTest = checkLimit("limitTest", limit);
      return this;
    }

    /**
     * Finds the files (see {@link FashionMnist}) and loads both splits.
     *
     * @return the data set and its source
     * @throws FileNotFoundException if a data directory was given but lacks some of the files; the
     *     message says how to install them
     * @throws IOException if a file cannot be read or is malformed, or the images and labels of a
     *     split disagree
     */
    public FashionMnist load() throws IOException {
      if (dataDir != null) {
        checkDataDir(dataDir);
        return load(Origin.DATA_DIR, dataDir.toString(), fileOpener(dataDir));
      }
      List<String> missing = missingFiles(systemDir);
      if (missing.isEmpty()) {
        return load(Origin.SYSTEM_PACKAGE, systemDir.toString(), fileOpener(systemDir));
      }
      if (missing.size() < FILES.size()) {
        log.warn(
            "{} lacks {}; using the embedded subset. Reinstall with: {}",
            systemDir, missing, INSTALL_COMMAND);
      }
      return load(Origin.EMBEDDED_SUBSET, "classpath:" + SUBSET_RESOURCE_DIR, RESOURCES);
    }

    private FashionMnist load(Origin origin, String location, Opener opener) throws IOException {
      int[] trainLabels = readLabels(opener, TRAIN_LABELS);
      int[] testLabels = readLabels(opener, TEST_LABELS);
      Split train = readSplit(opener, TRAIN_IMAGES, TRAIN_LABELS, trainLabels, limitTrain);
      Split test = readSplit(opener, TEST_IMAGES, TEST_LABELS, testLabels, limitTest);
      Source source =
          new Source(
              origin, location, train.size(), trainLabels.length, test.size(), testLabels.length);
      return new FashionMnist(source, train, test);
    }

    private static int[] readLabels(Opener opener, String name) throws IOException {
      try (InputStream in = opener.open(name)) {
        return IdxReader.readLabels(in, opener.describe(name), Integer.MAX_VALUE);
      }
    }

    private static Split readSplit(
        Opener opener, String imagesName, String labelsName, int[] allLabels, int limit)
        throws IOException {
      IdxReader.IdxImages images;
      try (InputStream in = opener.open(imagesName)) {
        images = IdxReader.readImages(in, opener.describe(imagesName), limit);
      }
      int expected = Math.min(limit, allLabels.length);
      if (images.count() != expected) {
        throw new IOException(
            String.format(
                "count mismatch: %s holds %d images but %s holds %d labels",
                opener.describe(imagesName),
                images.count(),
                opener.describe(labelsName),
                allLabels.length));
      }
      int[] labels = Arrays.copyOf(allLabels, expected);
      try {
        return Split.of(images, labels);
      } catch (IllegalArgumentException e) {
        throw new IOException(
            String.format(
                "%s / %s are not Fashion-MNIST: %s",
                opener.describe(imagesName), opener.describe(labelsName), e.getMessage()),
            e);
      }
    }

    private static void checkDataDir(Path dir) throws FileNotFoundException {
      String problem;
      if (!Files.isDirectory(dir)) {
        problem = "the Fashion-MNIST data directory " + dir + " does not exist";
      } else {
        List<String> missing = missingFiles(dir);
        if (missing.isEmpty()) {
          return;
        }
        problem =
            "the Fashion-MNIST data directory " + dir + " lacks " + String.join(", ", missing);
      }
      throw new FileNotFoundException(
          problem
              + ". To get the full data set run `"
              + INSTALL_COMMAND
              + "` (it puts the four files under "
              + SYSTEM_DIR
              + ", which is used automatically when --data-dir is omitted), or omit --data-dir"
              + " to use the embedded subset (12000 train / 2000 test) when the package is not"
              + " installed.");
    }

    /** The names of the four files that {@code dir} lacks, none if it holds them all. */
    static List<String> missingFiles(Path dir) {
      return FILES.stream()
          .filter(name -> !Files.isRegularFile(dir.resolve(name)))
          .collect(Collectors.toList());
    }

    private static int checkLimit(String name, int limit) {
      if (limit < 1) {
        throw new IllegalArgumentException(name + " must be >= 1, got " + limit);
      }
      return limit;
    }
  }

  /** Opens one of the four files by name, from a directory or the classpath. */
  private interface Opener {
    InputStream open(String name) throws IOException;

    /** The file's full name for error messages. */
    String describe(String name);
  }

  private static Opener fileOpener(Path dir) {
    return new Opener() {
      @Override
      public InputStream open(String name) throws IOException {
        return Files.newInputStream(dir.resolve(name));
      }

      @Override
      public String describe(String name) {
        return dir.resolve(name).toString();
      }
    };
  }

  private static final Opener RESOURCES =
      new Opener() {
        @Override
        public InputStream open(String name) throws IOException {
          InputStream in = FashionMnist.class.getResourceAsStream(SUBSET_RESOURCE_DIR + name);
          if (in == null) {
            throw new FileNotFoundException(
                "embedded subset file " + describe(name) + " is missing from the classpath");
          }
          return in;
        }

        @Override
        public String describe(String name) {
          return "classpath:" + SUBSET_RESOURCE_DIR + name;
        }
      };
}
