package dev.flops.benchmarks.synthetic;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Objects;

/**
 * A learner that does not train: {@link #fit} returns the parameters it received plus small
 * uniform noise, weighted as 1 example, and {@link #evaluate} reports a loss computed from a few
 * parameters, also as 1 example. The noise makes every update differ, so the aggregator folds
 * real, distinct data.
 */
public final class SyntheticTrainer implements LocalTrainer {

  /** The default noise amplitude: updates move each parameter by less than 0.001. */
  public static final float DEFAULT_NOISE = 1e-3f;

  private static final int EVALUATED_VALUES = 1024;

  private final SyntheticModel model;
  private final SyntheticParameters.Noise noise;
  /** The buffers of the last two fits' results, refilled alternately (see {@link #fit}). */
  private final ByteBuffer[][] results = new ByteBuffer[2][];
  private int next;

  /**
   * Creates a trainer.
   *
   * @param model the learner's model copy
   * @param seed the seed of the noise
   * @param noiseAmplitude noise values lie in [-noiseAmplitude, noiseAmplitude)
   */
  public SyntheticTrainer(SyntheticModel model, long seed, float noiseAmplitude) {
    this.model = Objects.requireNonNull(model, "model");
    this.noise = new SyntheticParameters.Noise(seed, noiseAmplitude);
  }

  @Override
  public SyntheticModel model() {
    return model;
  }

  /**
   * Returns the received parameters plus noise, as 1 example. The result's buffers are reused by
   * the fit after next (two results alternate), so that a fit allocates nothing: a learner
   * uploads a fit's result before it takes its next task, so a result is never overwritten while
   * it is sent.
   */
  @Override
  public synchronized FitResult fit(Config config) {
    Parameters received = model.getParameters();
    if (received.size() == 0) {
      throw new IllegalStateException("fit before any parameters were received");
    }
    if (results[next] == null || results[next].length != received.size()) {
      results[next] = new ByteBuffer[received.size()];
    }
    Parameters result = SyntheticParameters.withNoise(received, noise, results[next]);
    next ^= 1;
    return FitResult.of(result, 1);
  }

  /**
   * Reports as loss the mean square of the first (up to) 1024 values of the first tensor, and
   * {@code 1 / (1 + loss)} as accuracy: cheap, deterministic in the parameters, and finite.
   */
  @Override
  public EvaluateResult evaluate(Config config) {
    Parameters parameters = model.getParameters();
    if (parameters.size() == 0) {
      throw new IllegalStateException("evaluate before any parameters were received");
    }
    Tensor first = parameters.tensors().get(0);
    FloatBuffer values = first.data().asFloatBuffer();
    int n = Math.min(values.remaining(), EVALUATED_VALUES);
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double v = values.get(i);
      sum += v * v;
    }
    double loss = n == 0 ? 0 : sum / n;
    return EvaluateResult.of(loss, 1 / (1 + loss), 1);
  }
}
