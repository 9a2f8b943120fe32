package dev.flops.examples.fashion;

import java.util.Locale;

/**
 * How to split a data set's examples across learners: the value of a {@code --partition} flag.
 *
 * <ul>
 *   <li>{@code iid}: shuffled, equal-size shards ({@link Iid});
 *   <li>{@code dirichlet:ALPHA}: label skew, each class spread over the learners by
 *       Dirichlet(ALPHA) proportions ({@link Dirichlet}); small ALPHA (0.1) is very skewed, large
 *       ALPHA (100) nearly IID;
 *   <li>{@code labels:K}: each learner holds examples of only K classes ({@link Labels}).
 * </ul>
 *
 * <p>Splits are deterministic for a seed, and the class-to-learner plan depends only on the seed,
 * the class count and the number of learners, not on the labels. Splitting the test set with the
 * same partitioning, learners and seed as the training set therefore gives each learner held-out
 * data from its own label distribution:
 *
 * <pre>{@code
 * Partitioning p = Partitioning.parse("dirichlet:0.5");
 * int[][] trainShards = p.split(data.train().labels(), FashionMnist.NUM_CLASSES, learners, seed);
 * int[][] testShards = p.split(data.test().labels(), FashionMnist.NUM_CLASSES, learners, seed);
 * }</pre>
 *
 * {@link #toString()} gives back the flag form.
 */
public sealed interface Partitioning
    permits Partitioning.Iid, Partitioning.Dirichlet, Partitioning.Labels {

  /** The accepted {@code --partition} forms, for help texts and error messages. */
  String ACCEPTED_FORMS =
      "iid, dirichlet:ALPHA with ALPHA > 0 (e.g. dirichlet:0.5),"
          + " labels:K with K >= 1 (e.g. labels:2)";

  /**
   * Splits examples across learners.
   *
   * @param labels the class of each example, in [0, numClasses)
   * @param numClasses the number of classes
   * @param learners the number of learners, in [1, labels.length]
   * @param seed the seed; the same arguments always give the same split
   * @return one array per learner of example indices, ascending, each non-empty; the arrays are
   *     disjoint
   * @throws IllegalArgumentException if an argument is out of range or the scheme cannot give
   *     every learner an example; the message names the values
   */
  int[][] split(int[] labels, int numClasses, int learners, long seed);

  /**
   * Parses a {@code --partition} value: {@code iid}, {@code dirichlet:ALPHA} or {@code labels:K},
   * case-insensitive.
   *
   * @param text the value
   * @return the partitioning
   * @throws IllegalArgumentException if {@code text} is none of the accepted forms; the message
   *     lists them
   */
  static Partitioning parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("partitioning is null; accepted forms: " + ACCEPTED_FORMS);
    }
    String value = text.trim().toLowerCase(Locale.ROOT);
    int colon = value.indexOf(':');
    String scheme = colon < 0 ? value : value.substring(0, colon);
    String argument = colon < 0 ? null : value.substring(colon + 1).trim();
    try {
      switch (scheme) {
        case "iid":
          if (argument == null) {
            return new Iid();
          }
          break;
        case "dirichlet":
          if (argument != null) {
            return new Dirichlet(Double.parseDouble(argument));
          }
          break;
        case "labels":
          if (argument != null) {
            return new Labels(Integer.parseInt(argument));
          }
          break;
        default:
          break;
      }
    } catch (IllegalArgumentException e) { // includes NumberFormatException
      throw new IllegalArgumentException(
          String.format(
              "bad partitioning '%s' (%s); accepted forms: %s",
              text, e.getMessage(), ACCEPTED_FORMS),
          e);
    }
    throw new IllegalArgumentException(
        String.format(
            "unknown or malformed partitioning '%s'; accepted forms: %s", text, ACCEPTED_FORMS));
  }

  /** Shuffled, equal-size shards (sizes differ by at most one). */
  record Iid() implements Partitioning {

    @Override
    public int[][] split(int[] labels, int numClasses, int learners, long seed) {
      Partitioner.checkLabels(labels, numClasses);
      return Partitioner.iid(labels.length, learners, seed);
    }

    @Override
    public String toString() {
      return "iid";
    }
  }

  /**
   * Label skew by Dirichlet proportions; see {@link Partitioner#dirichlet}.
   *
   * @param alpha concentration, finite and &gt; 0
   */
  record Dirichlet(double alpha) implements Partitioning {

    /**
     * Validates alpha.
     *
     * @throws IllegalArgumentException if alpha is not finite and positive
     */
    public Dirichlet {
      Partitioner.checkAlpha(alpha);
    }

    @Override
    public int[][] split(int[] labels, int numClasses, int learners, long seed) {
      return Partitioner.dirichlet(labels, numClasses, learners, alpha, seed);
    }

    @Override
    public String toString() {
      return "dirichlet:" + alpha;
    }
  }

  /**
   * Each learner holds examples of only {@code perLearner} classes; see {@link
   * Partitioner#labelsPerLearner}.
   *
   * @param perLearner classes per learner, at least 1 and at most the number of classes
   */
  record Labels(int perLearner) implements Partitioning {

    /**
     * Validates the class count.
     *
     * @throws IllegalArgumentException if {@code perLearner < 1}
     */
    public Labels {
      if (perLearner < 1) {
        throw new IllegalArgumentException("labels per learner must be >= 1, got " + perLearner);
      }
    }

    @Override
    public int[][] split(int[] labels, int numClasses, int learners, long seed) {
      return Partitioner.labelsPerLearner(labels, numClasses, learners, perLearner, seed);
    }

    @Override
    public String toString() {
      return "labels:" + perLearner;
    }
  }
}
