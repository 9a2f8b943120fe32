package dev.flops.api.strategy;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import dev.flops.api.strategy.catalog.StrategyCatalog;
import dev.flops.api.strategy.catalog.StrategyChoice;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Which strategies let the aggregator free superseded global parameters at once
 * ({@link Strategy#keepsGlobalParameters()}): every strategy flops ships, as the catalog builds
 * it; not an application's strategy unless it says so.
 */
class KeepsGlobalParametersTest {

  @Test
  void everyStrategyOfTheCatalog_keepsNoGlobalParameters() {
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      Strategy strategy = StrategyCatalog.create(choice.name(), FedAvg.builder());
      assertFalse(strategy.keepsGlobalParameters(), choice.name() + " (" + strategy + ")");
    }
  }

  @Test
  void aCentralEvaluationThatMayKeepThem_makesEveryStrategyKeepThem_unlessItSaysOtherwise() {
    List<Parameters> kept = new java.util.ArrayList<>();
    CentralEvaluation keeping = (round, global) -> {
      kept.add(global); // e.g. the best round's model, for later
      return new EvaluateResult(0.0, 1, java.util.Map.of());
    };
    CentralEvaluation copying = new CentralEvaluation() {
      @Override
      public EvaluateResult evaluate(int round, Parameters global) {
        return new EvaluateResult(0.0, 1, java.util.Map.of());
      }

      @Override
      public boolean keepsParameters() {
        return false;
      }
    };
    assertTrue(keeping.keepsParameters(), "a lambda cannot say otherwise");
    for (StrategyChoice choice : StrategyCatalog.choices()) {
      assertTrue(StrategyCatalog.create(choice.name(), FedAvg.builder()
          .centralEvaluation(keeping)).keepsGlobalParameters(), choice.name());
      assertFalse(StrategyCatalog.create(choice.name(), FedAvg.builder()
          .centralEvaluation(copying)).keepsGlobalParameters(), choice.name());
    }
  }

  @Test
  void anApplicationsStrategy_mayKeepThem_unlessItSaysOtherwise() {
    Strategy own = new Strategy() {
      @Override
      public List<Instruction> configureFit(int round, Parameters global, List<String> learners) {
        return List.of();
      }

      @Override
      public FitAggregation beginFitAggregation(int round, Parameters global,
          AveragingKernel kernel) {
        throw new UnsupportedOperationException("no fit in this test");
      }

      @Override
      public List<Instruction> configureEvaluate(int round, Parameters global,
          List<String> learners) {
        return List.of();
      }

      @Override
      public Optional<Evaluation> aggregateEvaluate(int round,
          List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures) {
        return Optional.empty();
      }
    };
    assertTrue(own.keepsGlobalParameters(), "the interface's default");

    // A FedAvg subclass from another package says true: SupersededGlobalTest (flops-aggregator).
    FedAvg promising = new FedAvg(FedAvg.builder()) {
      @Override
      public boolean keepsGlobalParameters() {
        return false;
      }
    };
    assertFalse(promising.keepsGlobalParameters());
  }
}
