package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.FederatedModel;
import dev.flops.api.FederationObserver;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Freeing superseded global models early changes no bit of any round: the same federation (real
 * gRPC on loopback, three learners, a 4.8 MB model downloaded in chunks, exact aggregation so
 * that arrival order cannot change a bit) once with a model that may keep parameters (nothing is
 * freed early) and once with a model that copies (each round's model is freed when the next
 * round ends, after its downloads were retired). Every round's global parameters, copied when
 * the round ends, must be equal.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SupersededFreeFederationTest {
  private static final int ROUNDS = 5;
  private static final List<String> NAMES = List.of("a", "b", "c");

  /** The aggregator's model copy; copies in both directions when {@code copies}. */
  private static final class Model implements FederatedModel {
    private final boolean copies;
    private volatile Parameters parameters;

    Model(Parameters initial, boolean copies) {
      this.parameters = initial;
      this.copies = copies;
    }

    @Override
    public Parameters getParameters() {
      return parameters;
    }

    @Override
    public void setParameters(Parameters given) {
      parameters = copies ? copy(given) : given;
    }

    @Override
    public boolean keepsParameters() {
      return !copies;
    }
  }

  private static Parameters copy(Parameters parameters) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : parameters) {
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(), tensor.toFloatArray()));
    }
    return new Parameters(tensors);
  }

  private static List<Parameters> run(Parameters initial, boolean copies) throws Exception {
    Model model = new Model(initial, copies);
    List<Parameters> rounds = new ArrayList<>();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0).model(model)
        .reproducibleAggregation(true).build().start()) {
      for (String name : NAMES) {
        Federations.startLearner(name, aggregator.port(), new DeterministicTrainer(name, initial));
      }
      TrainingResult result = aggregator.train(TrainingPlan.builder().rounds(ROUNDS)
          .minAvailableLearners(NAMES.size()).tracking(Tracking.off())
          .observer(new FederationObserver() {
            @Override
            public void onRoundFinished(RoundSummary summary) {
              rounds.add(copy(model.getParameters()));
            }
          }).build(), strategy);
      aggregator.shutdownLearners();
      for (RoundSummary round : result.rounds()) {
        assertEquals(NAMES.size(), round.fitSucceeded(), "round " + round.round());
        assertEquals(NAMES.size(), round.evaluateSucceeded(), "round " + round.round());
      }
      rounds.add(copy(result.finalParameters()));
    }
    return rounds;
  }

  @Test
  void everyRoundsGlobalParameters_areTheSame_withAndWithoutEarlyFreeing() throws Exception {
    Parameters initial = Federations.randomParameters(7, true);

    List<Parameters> kept = run(initial, false);
    List<Parameters> freed = run(initial, true);

    assertEquals(ROUNDS + 1, kept.size());
    for (int i = 0; i < kept.size(); i++) {
      for (Tensor tensor : kept.get(i)) {
        assertArrayEquals(tensor.toFloatArray(), freed.get(i).get(tensor.name()).toFloatArray(),
            (i < ROUNDS ? "round " + (i + 1) : "final parameters") + ", tensor " + tensor.name());
      }
    }
  }
}
