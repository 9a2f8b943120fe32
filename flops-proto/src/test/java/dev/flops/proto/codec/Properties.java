package dev.flops.proto.codec;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Runs a property over generated cases: each case draws from its own {@link SplittableRandom},
 * seeded from a sequence that the base seed fixes, so every run checks the same cases and a failure
 * names the one seed that reproduces it. There is no shrinking: a generator should keep its values
 * small enough to read.
 *
 * <p>Two system properties (passed through by surefire from {@code mvn -D...}):
 * {@value #SEED_PROPERTY} replaces every property's base seed, to explore other cases;
 * {@value #CASE_PROPERTY} runs only the case with that seed, to replay a failure.
 */
final class Properties {

  /** Replaces the base seed of every property (a long), to explore cases beyond the fixed ones. */
  static final String SEED_PROPERTY = "flops.properties.seed";
  /** Runs only the case with this seed (a long), as printed by a failure. */
  static final String CASE_PROPERTY = "flops.properties.case";

  /** How many values a filtered generator may reject before it is deemed broken. */
  private static final int MAX_REJECTED = 1000;

  private Properties() {}

  /** A property of one generated case; it fails by throwing. */
  @FunctionalInterface
  interface Property {
    void check(SplittableRandom random) throws Exception;
  }

  /**
   * Checks a property for {@code tries} cases derived from {@code seed}, or for the cases that the
   * system properties {@value #SEED_PROPERTY} and {@value #CASE_PROPERTY} select.
   *
   * @param name what the property claims, for the failure message
   * @param tries the number of cases
   * @param seed the base seed the case seeds derive from
   * @param property the property
   * @throws AssertionError naming the property and the seed of the first failing case
   */
  static void forAll(String name, int tries, long seed, Property property) {
    String replay = System.getProperty(CASE_PROPERTY);
    if (replay != null) {
      check(name, 0, 1, parse(CASE_PROPERTY, replay), property);
      return;
    }
    String base = System.getProperty(SEED_PROPERTY);
    run(name, tries, base == null ? seed : parse(SEED_PROPERTY, base), property);
  }

  /** Checks {@code tries} cases whose seeds the base seed derives, ignoring system properties. */
  static void run(String name, int tries, long base, Property property) {
    if (tries < 1) {
      throw new IllegalArgumentException("tries must be at least 1 but was " + tries);
    }
    SplittableRandom seeds = new SplittableRandom(base);
    for (int i = 0; i < tries; i++) {
      check(name, i, tries, seeds.nextLong(), property);
    }
  }

  /** Tells whether only a single case is being replayed, so that statistics over cases are moot. */
  static boolean replaying() {
    return System.getProperty(CASE_PROPERTY) != null;
  }

  /**
   * Draws values until one satisfies a condition: the counterpart of a discarded case, for
   * conditions that most values meet.
   *
   * @throws IllegalStateException if {@value #MAX_REJECTED} values in a row fail the condition
   */
  static <T> T generate(Supplier<T> generator, Predicate<T> condition, String what) {
    for (int i = 0; i < MAX_REJECTED; i++) {
      T value = generator.get();
      if (condition.test(value)) {
        return value;
      }
    }
    throw new IllegalStateException("the generator of " + what + " produced no acceptable value in "
        + MAX_REJECTED + " draws; widen the generator or loosen the condition");
  }

  /** Any int, one time in eight an edge value (0, 1, -1, the extremes). */
  static int anyInt(SplittableRandom random) {
    if (random.nextInt(8) == 0) {
      int[] edges = {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE};
      return edges[random.nextInt(edges.length)];
    }
    return random.nextInt();
  }

  /** Any long, one time in eight an edge value (0, 1, -1, the int and long extremes, 2^32). */
  static long anyLong(SplittableRandom random) {
    if (random.nextInt(8) == 0) {
      long[] edges = {0, 1, -1, Integer.MAX_VALUE, 1L << 32, Long.MIN_VALUE, Long.MAX_VALUE};
      return edges[random.nextInt(edges.length)];
    }
    return random.nextLong();
  }

  private static void check(String name, int index, int tries, long caseSeed, Property property) {
    try {
      property.check(new SplittableRandom(caseSeed));
    } catch (Exception | AssertionError e) {
      throw new AssertionError(String.format(
          "property '%s' failed for case %d of %d, seed=%d: %s%nreplay with: %s", name, index + 1,
          tries, caseSeed, e, replayCommand(caseSeed)), e);
    }
  }

  /** The Maven command that runs only the calling test method, only for the given case. */
  private static String replayCommand(long caseSeed) {
    StackWalker.StackFrame caller = StackWalker
        .getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE)
        .walk(frames -> frames.filter(Properties::isTestMethod).findFirst())
        .orElseThrow(() -> new IllegalStateException("call Properties from a @Test method"));
    return String.format("mvn -B -pl flops-proto -am verify -Dtest='%s#%s'"
            + " -Dsurefire.failIfNoSpecifiedTests=false -D%s=%d",
        caller.getDeclaringClass().getSimpleName(), caller.getMethodName(), CASE_PROPERTY,
        caseSeed);
  }

  private static boolean isTestMethod(StackWalker.StackFrame frame) {
    return Arrays.stream(frame.getDeclaringClass().getDeclaredMethods())
        .anyMatch(method -> method.getName().equals(frame.getMethodName())
            && method.isAnnotationPresent(Test.class));
  }

  private static long parse(String property, String value) {
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "system property " + property + " must be a long (e.g. -1234567) but was '" + value + "'",
          e);
    }
  }
}
