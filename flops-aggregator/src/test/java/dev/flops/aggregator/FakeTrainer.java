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
import java.util.function.UnaryOperator;

/**
 * A learner's work with arithmetic in place of training, so that protocol tests can predict the
 * global model exactly: fit adds {@code offset} to every value (or applies a custom transform) and
 * reports {@code examples}; evaluate reports a fixed loss and accuracy. Real DL4J training is
 * covered by the examples' end-to-end test.
 */
final class FakeTrainer implements LocalTrainer {
  private final ArrayModel model;
  private final long examples;
  private final UnaryOperator<Parameters> update;
  private final double loss;
  private final double accuracy;
  volatile int fits;
  volatile int evaluations;

  FakeTrainer(Parameters initial, long examples, UnaryOperator<Parameters> update, double loss,
      double accuracy) {
    this.model = new ArrayModel(initial);
    this.examples = examples;
    this.update = update;
    this.loss = loss;
    this.accuracy = accuracy;
  }

  static FakeTrainer adding(Parameters initial, float offset, long examples) {
    return new FakeTrainer(initial, examples, p -> add(p, offset), 1.0, 0.5);
  }

  static Parameters add(Parameters parameters, float offset) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : parameters) {
      float[] values = tensor.toFloatArray();
      for (int i = 0; i < values.length; i++) {
        values[i] += offset;
      }
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), values));
    }
    return new Parameters(tensors);
  }

  @Override
  public ArrayModel model() {
    return model;
  }

  @Override
  public FitResult fit(Config config) {
    fits++;
    return new FitResult(update.apply(model.getParameters()), examples, Map.of("fit_calls", 1.0));
  }

  @Override
  public EvaluateResult evaluate(Config config) {
    evaluations++;
    return EvaluateResult.of(loss, accuracy, examples);
  }
}
