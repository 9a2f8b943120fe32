package dev.flops.examples.fashion;

import java.util.Arrays;
import picocli.CommandLine.Option;

/**
 * Which site's data a learner of a hierarchical federation holds (a picocli mixin): the classes
 * are dealt out to the sites (clusters) in contiguous blocks, so that sites have different data,
 * as hospitals or factories do; the learners of one site then split that site's examples with
 * {@code --partition}. With one site (the default) a learner sees every class.
 *
 * <p>With 2 sites, site 0 holds classes 0-4 (T-shirt, trouser, pullover, dress, coat) and site 1
 * classes 5-9 (sandal, shirt, sneaker, bag, ankle boot).
 */
public final class SiteShare {
  /** Every class at one site: a flat federation. */
  static final SiteShare ALL = new SiteShare(1, 0);

  @Option(names = "--clusters", defaultValue = "1",
      description = "Sites (clusters) the classes are dealt out to, for a hierarchical federation "
          + "(default: ${DEFAULT-VALUE}).")
  int clusters = 1;

  @Option(names = "--cluster", defaultValue = "0",
      description = "The site (cluster) whose classes this learner holds, from 0 to clusters-1 "
          + "(default: ${DEFAULT-VALUE}).")
  int cluster;

  /** Creates the options with their defaults: one site. */
  public SiteShare() {}

  /**
   * Creates the share of {@code cluster} of {@code clusters}.
   *
   * @throws IllegalArgumentException if the cluster is outside [0, clusters) or there are more
   *     sites than classes
   */
  SiteShare(int clusters, int cluster) {
    this.clusters = clusters;
    this.cluster = cluster;
    validate();
  }

  /** Checks the values picocli cannot check by type. */
  void validate() {
    if (clusters < 1 || clusters > FashionMnist.NUM_CLASSES) {
      throw new IllegalArgumentException(String.format(
          "--clusters must be between 1 and %d (one class at least per site) but was %d",
          FashionMnist.NUM_CLASSES, clusters));
    }
    if (cluster < 0 || cluster >= clusters) {
      throw new IllegalArgumentException(String.format(
          "--cluster %d is outside [0, %d): there are --clusters %d", cluster, clusters, clusters));
    }
  }

  /** The site that holds a class: contiguous blocks of classes, sizes differing by one at most. */
  static int siteOf(int label, int clusters) {
    return label * clusters / FashionMnist.NUM_CLASSES;
  }

  /**
   * Returns the examples of this site's classes.
   *
   * @param labels the class of each example
   * @return their indices, ascending
   */
  int[] examples(int[] labels) {
    return Arrays.stream(indices(labels.length))
        .filter(i -> siteOf(labels[i], clusters) == cluster)
        .toArray();
  }

  private static int[] indices(int n) {
    int[] all = new int[n];
    Arrays.setAll(all, i -> i);
    return all;
  }

  /** Names a learner of this site, e.g. "fashion-c1-2", or "fashion-2" without sites. */
  String learnerName(int index) {
    return clusters == 1 ? "fashion-" + index : "fashion-c" + cluster + "-" + index;
  }

  @Override
  public String toString() {
    return clusters == 1 ? "every class" : String.format("site %d of %d (classes %s)", cluster,
        clusters, Arrays.toString(Arrays.stream(indices(FashionMnist.NUM_CLASSES))
            .filter(c -> siteOf(c, clusters) == cluster).toArray()));
  }
}
