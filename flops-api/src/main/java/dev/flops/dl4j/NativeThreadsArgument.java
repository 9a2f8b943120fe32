package dev.flops.dl4j;

/**
 * Parses a native-thread count given on a command line ({@code --native-threads} of the learner
 * and aggregator mains): a whole number from 1 to {@link NativeThreads#MAX_THREADS}, or a keyword
 * that leaves the count to someone else ({@code auto}, {@code nd4j}). Loads no ND4J class, so a
 * process without ND4J can parse its options.
 */
public final class NativeThreadsArgument {
  private NativeThreadsArgument() {}

  /**
   * Parses {@code value}.
   *
   * @param option the option's name, for the message (e.g. {@code --native-threads})
   * @param value what was given
   * @param keyword the word that means "no count here"
   * @return the count, or 0 for {@code keyword}
   * @throws IllegalArgumentException if {@code value} is neither {@code keyword} nor a count from
   *     1 to {@link NativeThreads#MAX_THREADS}; the message names the option and the value
   */
  public static int parse(String option, String value, String keyword) {
    if (value.equals(keyword)) {
      return 0;
    }
    try {
      int threads = Integer.parseInt(value);
      if (threads >= 1 && threads <= NativeThreads.MAX_THREADS) {
        return threads;
      }
    } catch (NumberFormatException notANumber) {
      // Falls through to the message below.
    }
    throw new IllegalArgumentException(String.format("%s must be %s or a whole number from 1 to "
        + "%d but was '%s'", option, keyword, NativeThreads.MAX_THREADS, value));
  }
}
