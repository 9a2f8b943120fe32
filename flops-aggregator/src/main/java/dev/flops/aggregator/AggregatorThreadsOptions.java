package dev.flops.aggregator;

import dev.flops.aggregator.internal.DefaultKernel;
import dev.flops.dl4j.NativeThreads;
import dev.flops.dl4j.NativeThreadsArgument;
import picocli.CommandLine.Option;

/**
 * The command-line option {@code --native-threads N|nd4j} ({@link
 * Aggregator.Builder#nativeThreads}) of an aggregator process, as a picocli mixin: {@code @Mixin
 * AggregatorThreadsOptions nativeThreads;} then {@code nativeThreads.applyTo(builder)}. Default 1:
 * an aggregator process's own native work is bound by memory bandwidth, and more OpenBLAS threads
 * only spin between folds (see the builder method).
 */
public final class AggregatorThreadsOptions {

  @Option(names = "--native-threads", defaultValue = "1", paramLabel = "N|nd4j",
      description = "Native threads ND4J uses in this aggregator process (default: "
          + "${DEFAULT-VALUE}; 'nd4j' keeps ND4J's own sizing, one per core). The aggregator's "
          + "folds are bound by memory bandwidth, and idle OpenBLAS threads spin between them, "
          + "taking CPU from learners on the same machine; raise it if this process evaluates a "
          + "large model centrally. Ignored without ND4J on the classpath.")
  String nativeThreads = "1";

  /**
   * Sets the option on an aggregator's builder: nothing for {@code nd4j} or without ND4J on the
   * classpath (the plain-Java kernel has no native threads).
   *
   * @param builder the builder
   * @return the builder
   * @throws IllegalArgumentException if the value is neither {@code nd4j} nor a count from 1 to
   *     {@value NativeThreads#MAX_THREADS}
   */
  public Aggregator.Builder applyTo(Aggregator.Builder builder) {
    int threads = parse(nativeThreads);
    if (threads > 0 && DefaultKernel.nd4jPresent(Aggregator.class.getClassLoader())) {
      builder.nativeThreads(threads);
    }
    return builder;
  }

  /** Returns the count asked for, or 0 for {@code nd4j}. */
  static int parse(String value) {
    return NativeThreadsArgument.parse("--native-threads", value, "nd4j");
  }
}
