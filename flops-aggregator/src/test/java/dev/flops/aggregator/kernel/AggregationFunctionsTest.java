package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AdaptiveOptimizer;
import dev.flops.api.strategy.AdaptiveOptimizer.Rule;
import dev.flops.api.strategy.AggregationFunctions;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.MutableParameters;
import dev.flops.api.strategy.TensorOps;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The server optimizers' steps on both kernels, over three rounds of fake learner means, against
 * the papers' update rules written out here in double precision.
 */
class AggregationFunctionsTest {

  /** Relative to max(1, |reference|): three rounds of float32 arithmetic. */
  private static final double TOLERANCE = 1e-5;
  private static final int ROUNDS = 3;

  static Stream<AveragingKernel> kernels() {
    return Stream.of(new Nd4jAveraging(), new JavaAveraging());
  }

  static Stream<Arguments> kernelsAndRules() {
    return kernels().flatMap(kernel -> Stream.of(Rule.values())
        .map(rule -> Arguments.of(kernel, rule)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void weightedMean_matchesTheDoubleReference(AveragingKernel kernel) {
    Random random = new Random(1);
    List<Parameters> values = List.of(model(random, 0.5), model(random, 0.5), model(random, 0.5));
    List<Long> examples = List.of(10L, 250L, 3L);

    Parameters mean = AggregationFunctions.weightedMean(kernel, values, examples);

    double[] expected = new double[size(values.get(0))];
    for (int k = 0; k < values.size(); k++) {
      double[] v = flat(values.get(k));
      for (int i = 0; i < expected.length; i++) {
        expected[i] += examples.get(k) * v[i] / 263.0;
      }
    }
    assertClose(expected, mean, "weighted mean on " + kernel);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AggregationFunctions.weightedMean(kernel, values, List.of(1, 2)));
    assertTrue(e.getMessage().contains("3 values and 2 weights"), e.getMessage());
  }

  /** FedAvgM (Hsu et al. 2019): v = beta v + delta; x = x + eta v, with delta = mean - x. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void momentumStep_threeRounds_matchHandWrittenDoubleReference(AveragingKernel kernel) {
    double eta = 0.7;
    double beta = 0.9;
    Random random = new Random(2);
    Parameters initial = model(random, 1);
    double[] x = flat(initial);
    double[] velocity = new double[x.length];
    TensorOps ops = kernel.ops();
    try (MutableParameters global = ops.copyOf(initial);
        MutableParameters v = ops.zeros(initial)) {
      for (int round = 1; round <= ROUNDS; round++) {
        Parameters mean = perturbed(global.snapshot(), random);
        double[] m = flat(mean);
        for (int i = 0; i < x.length; i++) {
          velocity[i] = beta * velocity[i] + (m[i] - x[i]);
          x[i] += eta * velocity[i];
        }
        try (MutableParameters delta = AggregationFunctions.pseudoGradient(mean, global)) {
          AggregationFunctions.momentumStep(global, v, delta, eta, beta);
        }
        assertClose(velocity, v.snapshot(), "velocity after round " + round + " on " + kernel);
        assertClose(x, global.snapshot(), "global after round " + round + " on " + kernel);
      }
    }
  }

  /**
   * FedAdagrad, FedAdam and FedYogi (Reddi et al. 2021, Algorithm 2): m = b1 m + (1 - b1) d;
   * v by the rule; x = x + eta m / (sqrt(v) + tau); v starts at tau^2 as in the paper.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("kernelsAndRules")
  void adaptiveStep_threeRounds_matchHandWrittenDoubleReference(AveragingKernel kernel,
      Rule rule) {
    AdaptiveOptimizer optimizer = new AdaptiveOptimizer(rule, 0.1, 0.9, 0.99, 1e-3);
    double tau = (float) optimizer.tau(); // the kernels apply factors in float32
    Random random = new Random(3 + rule.ordinal());
    Parameters initial = model(random, 1);
    double[] x = flat(initial);
    double[] m = new double[x.length];
    double[] v = new double[x.length];
    java.util.Arrays.fill(v, tau * tau);
    TensorOps ops = kernel.ops();
    try (MutableParameters global = ops.copyOf(initial);
        MutableParameters first = ops.zeros(initial);
        MutableParameters second = ops.copyOf(constant(initial, (float) (tau * tau)))) {
      for (int round = 1; round <= ROUNDS; round++) {
        Parameters mean = perturbed(global.snapshot(), random);
        double[] means = flat(mean);
        for (int i = 0; i < x.length; i++) {
          double d = means[i] - x[i];
          m[i] = 0.9 * m[i] + 0.1 * d;
          double d2 = d * d;
          v[i] = switch (rule) {
            case ADAGRAD -> v[i] + d2;
            case ADAM -> 0.99 * v[i] + 0.01 * d2;
            case YOGI -> v[i] - 0.01 * d2 * Math.signum(v[i] - d2);
          };
          x[i] += 0.1 * m[i] / (Math.sqrt(v[i]) + tau);
        }
        try (MutableParameters delta = AggregationFunctions.pseudoGradient(mean, global)) {
          AggregationFunctions.adaptiveStep(optimizer, global, first, second, delta);
        }
        String where = rule + " round " + round + " on " + kernel;
        assertClose(m, first.snapshot(), "m after " + where);
        assertClose(v, second.snapshot(), "v after " + where);
        assertClose(x, global.snapshot(), "x after " + where);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("kernels")
  void stepWithAMismatchedBuffer_refusedBeforeAnyBufferChanges(AveragingKernel kernel) {
    Parameters model = model(new Random(4), 1);
    Parameters other = Parameters.of(Tensor.ofFloats("w", 1f, 2f));
    TensorOps ops = kernel.ops();
    try (MutableParameters global = ops.copyOf(model);
        MutableParameters velocity = ops.copyOf(model);
        MutableParameters delta = ops.zeros(other)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> AggregationFunctions.momentumStep(global, velocity, delta, 1, 0.9));
      assertTrue(e.getMessage().contains("from one kernel with the global model's structure"),
          e.getMessage());
      assertEquals(model, velocity.snapshot(), "the velocity was not scaled");
      assertEquals(model, global.snapshot());
      assertThrows(IllegalArgumentException.class,
          () -> AggregationFunctions.momentumStep(global, velocity, velocity, 1, 1.0));
      IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
          () -> new AdaptiveOptimizer(Rule.ADAM, -1, 1, 0.99, 0));
      assertTrue(bad.getMessage().contains("learningRate must be positive")
          && bad.getMessage().contains("beta1 must be in [0, 1) but was 1.0")
          && bad.getMessage().contains("tau must be positive"), bad.getMessage());
    }
  }

  /** Two tensors of N(0, scale^2) values, one of 50k (above ND4J's multi-threading threshold). */
  static Parameters model(Random random, double scale) {
    return Parameters.of(
        Tensor.ofFloats("w", new long[] {50, 1000}, gaussian(random, 50_000, scale)),
        Tensor.ofFloats("b", new long[] {7}, gaussian(random, 7, scale)));
  }

  /** A fake round mean: the global model moved by N(0, 0.1^2) per element. */
  static Parameters perturbed(Parameters global, Random random) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : global) {
      float[] values = tensor.toFloatArray();
      for (int i = 0; i < values.length; i++) {
        values[i] += (float) (0.1 * random.nextGaussian());
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  private static Parameters constant(Parameters template, float value) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : template) {
      float[] values = new float[(int) tensor.elementCount()];
      java.util.Arrays.fill(values, value);
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  private static float[] gaussian(Random random, int n, double scale) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) (scale * random.nextGaussian());
    }
    return values;
  }

  private static int size(Parameters parameters) {
    return Math.toIntExact(parameters.elementCount());
  }

  /** All elements, tensor after tensor, as doubles. */
  private static double[] flat(Parameters parameters) {
    return OptimizerReference.flat(parameters);
  }

  static void assertClose(double[] expected, Parameters actual, String what) {
    double[] values = flat(actual);
    assertEquals(expected.length, values.length, what);
    for (int i = 0; i < values.length; i++) {
      assertEquals(expected[i], values[i], TOLERANCE * Math.max(1, Math.abs(expected[i])),
          what + ", element " + i);
    }
  }
}
