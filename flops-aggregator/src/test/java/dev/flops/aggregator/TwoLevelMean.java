package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.function.BiFunction;
import java.util.function.ToLongBiFunction;

/**
 * What a hierarchical federation of {@link FakeTrainer#adding} leaves must produce, computed
 * independently of the aggregator in double precision: each cluster runs its cycles of
 * example-weighted FedAvg from the root's global, and the root weighs each cluster's result by
 * the examples of the cluster's last cycle. Shared by the in-process and the child-process
 * hierarchy tests.
 */
final class TwoLevelMean {
  private TwoLevelMean() {}

  /**
   * As below, for {@code clusters} clusters of {@code leaves} leaves each.
   *
   * @param offset what leaf j of cluster c adds in each fit
   * @param examples the examples leaf j of cluster c reports
   */
  static double[][] expected(Parameters initial, int clusters, int leaves,
      BiFunction<Integer, Integer, Float> offset, ToLongBiFunction<Integer, Integer> examples,
      int rounds, int cycles) {
    float[][] offsets = new float[clusters][leaves];
    long[][] counts = new long[clusters][leaves];
    for (int c = 0; c < clusters; c++) {
      for (int j = 0; j < leaves; j++) {
        offsets[c][j] = offset.apply(c, j);
        counts[c][j] = examples.applyAsLong(c, j);
      }
    }
    return expected(initial, offsets, counts, rounds, cycles);
  }

  /**
   * The root's global after {@code rounds} root rounds of {@code cycles} cycles.
   *
   * @param offsets {@code offsets[c][j]}: what leaf j of cluster c adds in each fit
   * @param examples {@code examples[c][j]}: the examples leaf j of cluster c reports
   */
  private static double[][] expected(Parameters initial, float[][] offsets, long[][] examples,
      int rounds, int cycles) {
    double[][] global = toDoubles(initial);
    for (int round = 0; round < rounds; round++) {
      double[][] sum = zerosLike(global);
      double totalWeight = 0;
      for (int c = 0; c < offsets.length; c++) {
        double[][] cluster = copy(global);
        long clusterExamples = 0;
        for (long leafExamples : examples[c]) {
          clusterExamples += leafExamples;
        }
        for (int cycle = 0; cycle < cycles; cycle++) {
          double[][] next = zerosLike(cluster);
          for (int t = 0; t < cluster.length; t++) {
            for (int i = 0; i < cluster[t].length; i++) {
              double weighted = 0;
              for (int j = 0; j < offsets[c].length; j++) {
                weighted += examples[c][j] * (cluster[t][i] + (double) offsets[c][j]);
              }
              next[t][i] = weighted / clusterExamples;
            }
          }
          cluster = next;
        }
        for (int t = 0; t < cluster.length; t++) {
          for (int i = 0; i < cluster[t].length; i++) {
            sum[t][i] += clusterExamples * cluster[t][i];
          }
        }
        totalWeight += clusterExamples;
      }
      for (double[] tensor : sum) {
        for (int i = 0; i < tensor.length; i++) {
          tensor[i] /= totalWeight;
        }
      }
      global = sum;
    }
    return global;
  }

  private static double[][] toDoubles(Parameters parameters) {
    double[][] values = new double[parameters.size()][];
    for (int t = 0; t < values.length; t++) {
      float[] floats = parameters.tensors().get(t).toFloatArray();
      values[t] = new double[floats.length];
      for (int i = 0; i < floats.length; i++) {
        values[t][i] = floats[i];
      }
    }
    return values;
  }

  private static double[][] zerosLike(double[][] values) {
    double[][] zeros = new double[values.length][];
    for (int t = 0; t < values.length; t++) {
      zeros[t] = new double[values[t].length];
    }
    return zeros;
  }

  private static double[][] copy(double[][] values) {
    double[][] copy = new double[values.length][];
    for (int t = 0; t < values.length; t++) {
      copy[t] = values[t].clone();
    }
    return copy;
  }

  static void assertParameters(double[][] expected, Parameters actual, double tolerance) {
    assertEquals(expected.length, actual.size());
    for (int t = 0; t < expected.length; t++) {
      Tensor tensor = actual.tensors().get(t);
      float[] values = tensor.toFloatArray();
      assertEquals(expected[t].length, values.length, tensor.name());
      for (int i = 0; i < values.length; i++) {
        assertEquals(expected[t][i], values[i], tolerance, tensor.name() + "[" + i + "]");
      }
    }
  }
}
