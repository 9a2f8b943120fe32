package dev.flops.aggregator;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A learner whose update is a pure function of (global parameters, round, learner name), so that
 * an uninterrupted federation and one that crashed and resumed can be compared exactly: fit returns
 * {@code 0.5 * global + noise(name, round)} with {@link #examples(String)} examples; the round
 * comes from the fit config's {@value #ROUND} entry. Evaluate reports a loss and an accuracy that
 * depend only on the global parameters, so the best round is reproducible too.
 */
class DeterministicTrainer implements LocalTrainer {
  /** The fit and evaluate config entry that carries the round number. */
  static final String ROUND = "round";

  private final String name;
  private final ArrayModel model;
  private final Hooks hooks;

  /** What a test may do around a fit: block, fail, signal. */
  interface Hooks {
    /** Called when a fit of {@code round} starts; may sleep or throw. */
    default void beforeFit(String name, int round) throws Exception {}

    /** Called when an evaluation of {@code round} starts; may sleep or throw. */
    default void beforeEvaluate(String name, int round) throws Exception {}
  }

  DeterministicTrainer(String name, Parameters template) {
    this(name, template, new Hooks() {});
  }

  DeterministicTrainer(String name, Parameters template, Hooks hooks) {
    this.name = name;
    this.model = new ArrayModel(template);
    this.hooks = hooks;
  }

  /** The number of examples learner {@code name} reports: its weight in FedAvg. */
  static long examples(String name) {
    return 10 + Math.floorMod(name.hashCode(), 41);
  }

  /** The update of learner {@code name} in {@code round} starting from {@code global}. */
  static Parameters update(Parameters global, int round, String name) {
    List<Tensor> tensors = new ArrayList<>();
    int t = 0;
    for (Tensor tensor : global) {
      SplittableRandom noise =
          new SplittableRandom(name.hashCode() * 1_000_003L + round * 7919L + t++);
      float[] values = tensor.toFloatArray();
      for (int i = 0; i < values.length; i++) {
        values[i] = 0.5f * values[i] + (float) (noise.nextDouble() * 2 - 1);
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  /**
   * The global parameters FedAvg gives after the rounds whose accepted learners are listed, in
   * double precision (the kernels sum in float, so compare with a tolerance).
   */
  static Parameters expected(Parameters initial, List<List<String>> acceptedPerRound) {
    Parameters global = initial;
    for (int r = 0; r < acceptedPerRound.size(); r++) {
      List<String> names = acceptedPerRound.get(r);
      List<Tensor> tensors = new ArrayList<>();
      List<Parameters> updates = new ArrayList<>();
      for (String name : names) {
        updates.add(update(global, r + 1, name));
      }
      double total = names.stream().mapToLong(DeterministicTrainer::examples).sum();
      for (int t = 0; t < global.size(); t++) {
        Tensor spec = global.tensors().get(t);
        double[] sum = new double[Math.toIntExact(spec.elementCount())];
        for (int u = 0; u < updates.size(); u++) {
          float[] values = updates.get(u).tensors().get(t).toFloatArray();
          long weight = examples(names.get(u));
          for (int i = 0; i < values.length; i++) {
            sum[i] += weight * (double) values[i];
          }
        }
        float[] mean = new float[sum.length];
        for (int i = 0; i < mean.length; i++) {
          mean[i] = (float) (sum[i] / total);
        }
        tensors.add(Tensor.ofFloats(spec.name(), spec.shape(), mean));
      }
      global = new Parameters(tensors);
    }
    return global;
  }

  @Override
  public ArrayModel model() {
    return model;
  }

  @Override
  public FitResult fit(Config config) throws Exception {
    int round = round(config);
    hooks.beforeFit(name, round);
    return new FitResult(update(model.getParameters(), round, name), examples(name),
        Map.of("round", (double) round));
  }

  @Override
  public EvaluateResult evaluate(Config config) throws Exception {
    hooks.beforeEvaluate(name, round(config));
    float[] first = model.getParameters().tensors().get(0).toFloatArray();
    double sumAbs = 0;
    for (float value : first) {
      sumAbs += Math.abs(value);
    }
    double loss = sumAbs / first.length;
    return EvaluateResult.of(loss, 1 / (1 + loss), examples(name));
  }

  private static int round(Config config) {
    Object round = config.values().get(ROUND);
    if (!(round instanceof Number n)) {
      throw new IllegalArgumentException("the config lacks '" + ROUND + "': " + config);
    }
    return n.intValue();
  }
}
