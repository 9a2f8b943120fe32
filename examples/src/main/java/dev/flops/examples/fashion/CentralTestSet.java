package dev.flops.examples.fashion;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Parameters;
import dev.flops.api.strategy.CentralEvaluation;
import dev.flops.dl4j.Dl4jModel;
import dev.flops.dl4j.Dl4jTrainer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The aggregator's central evaluation: the global model on the whole test set (10,000 images with
 * the full data set), every round. Federated accuracy averages each learner's accuracy on its own
 * test shard, which under label skew ({@code labels:2}) holds only the classes that learner trains
 * on; this one is measured over every class, the same images every round.
 */
final class CentralTestSet implements CentralEvaluation {
  private final Dl4jTrainer evaluator;
  private final int examples;
  private final Map<Integer, EvaluateResult> results = new ConcurrentSkipListMap<>();

  /**
   * @param model a network of the federation's architecture, used only to evaluate
   * @param test the whole test set
   */
  CentralTestSet(Dl4jModel model, FashionMnist.Split test) throws Exception {
    // The trainer's evaluate() is the learners' own; it never fits here, so its training data is
    // the test set only to satisfy the builder.
    this.evaluator = Dl4jTrainer.builder(model)
        .trainData(test::toDataSet)
        .testData(test::toDataSet)
        .build();
    evaluator.prepare();
    this.examples = test.size();
  }

  @Override
  public EvaluateResult evaluate(int round, Parameters global) {
    evaluator.model().setParameters(global);
    EvaluateResult result = evaluator.evaluate(Config.of(Dl4jTrainer.BATCH_SIZE, 1000));
    results.put(round, result);
    return result;
  }

  /** Returns {@code false}: the parameters are copied into the evaluator's DL4J network. */
  @Override
  public boolean keepsParameters() {
    return false;
  }

  /** The number of test images evaluated on. */
  int examples() {
    return examples;
  }

  /** The central evaluation of {@code round}, if it ran. */
  Optional<EvaluateResult> result(int round) {
    return Optional.ofNullable(results.get(round));
  }
}
