package dev.flops.aggregator.kernel;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.FitResult;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FedAdagrad;
import dev.flops.api.strategy.FedAdam;
import dev.flops.api.strategy.FedAvgM;
import dev.flops.api.strategy.FedYogi;
import dev.flops.api.strategy.FitAggregation;
import dev.flops.api.strategy.Strategy;
import dev.flops.api.strategy.StrategyState;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * FedAvgM, FedAdagrad, FedAdam and FedYogi as the aggregator drives them (begin a round's
 * aggregation, accept each learner's update, finish), for three rounds of four learners with
 * unequal example counts, on both kernels, against {@link OptimizerReference} in double precision:
 * the global model after every round, and the optimizer state they save for checkpoints. The
 * model, the learners' updates (the global model moved by N(0, 0.1^2)) and the tolerance are
 * {@link AggregationFunctionsTest}'s.
 */
class ServerOptimizerStrategyTest {

  private static final long[] EXAMPLES = {3, 250, 10, 77};

  /**
   * The strategies, with tau 1e-3 for FedAdagrad and FedAdam: with Flower's 1e-9, an element whose
   * pseudo-gradient is within float32 rounding of 0 takes a step of +-eta whose sign is rounding.
   */
  static Stream<Supplier<Strategy>> strategies() {
    return Stream.of(
        () -> FedAvgM.builder().serverLearningRate(0.7).momentum(0.9).build(),
        () -> FedAdagrad.builder().serverLearningRate(0.05).beta1(0.5).tau(1e-3).build(),
        () -> FedAdam.builder().serverLearningRate(0.1).beta1(0.9).beta2(0.99).tau(1e-3).build(),
        () -> FedYogi.builder().build());
  }

  static Stream<Arguments> kernelsAndStrategies() {
    return Stream.of(new Nd4jAveraging(), new JavaAveraging()).flatMap(kernel ->
        strategies().map(strategy -> Arguments.of(kernel, strategy.get())));
  }

  @ParameterizedTest(name = "{1} on {0}")
  @MethodSource("kernelsAndStrategies")
  void threeRounds_matchTheDoubleReference_globalAndState(AveragingKernel kernel,
      Strategy strategy) {
    Random random = new Random(7);
    Parameters global = AggregationFunctionsTest.model(random, 1);
    OptimizerReference reference =
        new OptimizerReference(strategy, OptimizerReference.flat(global));
    for (int round = 1; round <= 3; round++) {
      FitAggregation aggregation = strategy.beginFitAggregation(round, global, kernel);
      double[] mean = new double[OptimizerReference.flat(global).length];
      long total = 0;
      for (long examples : EXAMPLES) {
        Parameters update = AggregationFunctionsTest.perturbed(global, random);
        BorrowedUpdate lent = BorrowedUpdate.lend("learner-" + examples,
            FitResult.of(update, examples));
        aggregation.accept(lent);
        lent.release();
        double[] values = OptimizerReference.flat(update);
        for (int i = 0; i < mean.length; i++) {
          mean[i] += examples * values[i];
        }
        total += examples;
      }
      for (int i = 0; i < mean.length; i++) {
        mean[i] /= total;
      }

      global = aggregation.finish(List.of()).parameters().orElseThrow();
      reference.step(mean);

      String where = strategy + " round " + round + " on " + kernel;
      AggregationFunctionsTest.assertClose(reference.x(), global, "global after " + where);
      StrategyState state = strategy.saveState();
      String first = strategy instanceof FedAvgM ? "velocity" : "m";
      AggregationFunctionsTest.assertClose(reference.first(), slot(state, first),
          first + " after " + where);
      if (!(strategy instanceof FedAvgM)) {
        AggregationFunctionsTest.assertClose(reference.second(), slot(state, "v"),
            "v after " + where);
      }
    }
  }

  @ParameterizedTest(name = "{1} on {0}")
  @MethodSource("kernelsAndStrategies")
  void stateOfAnotherModel_isRefusedSayingWhatToDo(AveragingKernel kernel,
      Strategy strategy) {
    Parameters small = Parameters.of(Tensor.ofFloats("w", 1f, 2f));
    FitAggregation first = strategy.beginFitAggregation(1, small, kernel);
    BorrowedUpdate update = BorrowedUpdate.lend("l",
        FitResult.of(Parameters.of(Tensor.ofFloats("w", 2f, 3f)), 1));
    first.accept(update);
    update.release();
    first.finish(List.of());
    StrategyState saved = strategy.saveState();
    strategy.restoreState(saved);
    Parameters other = Parameters.of(Tensor.ofFloats("w", 1f, 2f, 3f));
    FitAggregation second = strategy.beginFitAggregation(2, other, kernel);
    BorrowedUpdate bigger = BorrowedUpdate.lend("l", FitResult.of(other, 1));
    second.accept(bigger);
    bigger.release();

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> second.finish(List.of()));

    assertTrue(e.getMessage().contains("do not fit the global model")
        && e.getMessage().contains("new strategy instance"), e.getMessage());
  }

  /** The slot's tensors in a saved state, named {@code slot/tensor}, without the prefix. */
  private static Parameters slot(StrategyState state, String slot) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : state.tensors()) {
      if (tensor.name().startsWith(slot + "/")) {
        tensors.add(new Tensor(tensor.name().substring(slot.length() + 1), tensor.dtype(),
            tensor.shape(), tensor.data()));
      }
    }
    return new Parameters(tensors);
  }
}
