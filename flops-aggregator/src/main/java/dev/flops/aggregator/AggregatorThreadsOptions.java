package dev.flops.aggregator;

import dev.flops.aggregator.internal.DefaultKernel;
import dev.flops.dl4j.NativeThreads;
import dev.flops.dl4j.NativeThreadsArgument;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The command-line option {@code --native-threads N|nd4j} ({@link
 * Aggregator.Builder#nativeThreads}) of an aggregator process, as a picocli mixin: {@code @Mixin
 * AggregatorThreadsOptions nativeThreads;} then {@code nativeThreads.applyTo(builder)}. Default 1:
 * OpenBLAS's idle threads spin between an aggregator's folds (see the builder method). A bad value
 * fails when the command line is parsed, before anything loads.
 */
public final class AggregatorThreadsOptions {
  private static final Logger log = LoggerFactory.getLogger(AggregatorThreadsOptions.class);

  /** What {@code --native-threads} may say instead of a count: ND4J's own sizing. */
  static final String ND4J = "nd4j";

  @Option(names = "--native-threads", defaultValue = "1", paramLabel = "N|" + ND4J,
      converter = Count.class,
      description = "Native threads ND4J uses in this aggregator process (default: "
          + "${DEFAULT-VALUE}; '" + ND4J + "' keeps ND4J's own sizing, one per core). Idle OpenBLAS "
          + "threads spin between the aggregator's folds, taking CPU from learners on the same "
          + "machine; raise it if this process evaluates a large model centrally. Ignored "
          + "without ND4J on the classpath.")
  int nativeThreads = 1;

  /**
   * Sets the option on an aggregator's builder: nothing for {@code nd4j} (logged) or without ND4J
   * on the classpath (the plain-Java kernel has no native threads).
   *
   * @param builder the builder
   * @return the builder
   */
  public Aggregator.Builder applyTo(Aggregator.Builder builder) {
    if (nativeThreads == 0) {
      log.info("native threads: ND4J's own sizing (--native-threads {})", ND4J);
    } else if (DefaultKernel.nd4jPresent(Aggregator.class.getClassLoader())) {
      builder.nativeThreads(nativeThreads);
    }
    return builder;
  }

  /**
   * Parses a value of the option.
   *
   * @return the count, or 0 for {@code nd4j}
   * @throws IllegalArgumentException if the value is neither {@code nd4j} nor a count from 1 to
   *     {@value NativeThreads#MAX_THREADS}
   */
  static int parse(String value) {
    return NativeThreadsArgument.parse("--native-threads", value, ND4J);
  }

  /** picocli's converter: a bad value is a usage error, reported with the command's usage. */
  static final class Count implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
