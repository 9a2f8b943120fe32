package dev.flops.aggregator.internal;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.strategy.AveragingKernel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the averaging kernel when the application chose none: ND4J's native kernel when ND4J is
 * on the classpath, else the plain-Java one. An application that does not use DL4J may exclude
 * nd4j-native (124 MB of jars) from flops-aggregator; without this choice its first round would
 * die of a {@code NoClassDefFoundError} in the middle of training.
 */
public final class DefaultKernel {
  private static final Logger log = LoggerFactory.getLogger(DefaultKernel.class);

  /** Classes the native kernel needs, from nd4j-api and JavaCPP. */
  private static final String[] ND4J_CLASSES = {
      "org.nd4j.linalg.factory.Nd4j", "org.bytedeco.javacpp.indexer.Indexer"};

  private DefaultKernel() {}

  /**
   * Returns {@link Nd4jAveraging} if ND4J is on the classpath of {@code loader}, else
   * {@link JavaAveraging}, saying so in the log.
   */
  public static AveragingKernel choose(ClassLoader loader) {
    String missing = missingNd4jClass(loader);
    if (missing != null) {
      log.info("ND4J is not on the classpath ({} is missing): averaging with the plain-Java "
          + "kernel (JavaAveraging); add org.nd4j:nd4j-native for the native kernel", missing);
      return new JavaAveraging();
    }
    return new Nd4jAveraging();
  }

  /** Whether ND4J's classes can be loaded by {@code loader} (without initialising them). */
  public static boolean nd4jPresent(ClassLoader loader) {
    return missingNd4jClass(loader) == null;
  }

  private static String missingNd4jClass(ClassLoader loader) {
    for (String name : ND4J_CLASSES) {
      try {
        Class.forName(name, false, loader);
      } catch (ClassNotFoundException | LinkageError e) {
        return name;
      }
    }
    return null;
  }
}
