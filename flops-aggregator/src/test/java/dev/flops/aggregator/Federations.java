package dev.flops.aggregator;

import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.learner.Learner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

/** Helpers to run learners on threads against an aggregator on loopback. */
final class Federations {
  private Federations() {}

  /** Random float32 parameters: a matrix, a vector, and optionally one tensor above 4 MiB. */
  static Parameters randomParameters(long seed, boolean largerThanOneChunk) {
    Random random = new Random(seed);
    List<Tensor> tensors = new ArrayList<>();
    tensors.add(Tensor.ofFloats("dense_W", new long[] {30, 20}, floats(random, 600)));
    tensors.add(Tensor.ofFloats("dense_b", new long[] {20}, floats(random, 20)));
    if (largerThanOneChunk) {
      tensors.add(Tensor.ofFloats("big", new long[] {1200, 1000}, floats(random, 1_200_000)));
    }
    return new Parameters(tensors);
  }

  static float[] floats(Random random, int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }

  /** Starts a learner on its own thread; the future completes when run() returns or throws. */
  static CompletableFuture<Void> startLearner(String name, int port, LocalTrainer trainer) {
    return startLearner(name, port, trainer, builder -> builder);
  }

  /** As above, with the builder adjusted first (e.g. TLS or a token). */
  static CompletableFuture<Void> startLearner(String name, int port, LocalTrainer trainer,
      UnaryOperator<Learner.Builder> adjust) {
    Learner.Builder builder = Learner.builder()
        .aggregator("127.0.0.1", port)
        .name(name)
        .trainer(trainer)
        .connectTimeout(Duration.ofSeconds(30))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500));
    return adjust.apply(builder).build().runAsync();
  }
}
