package dev.flops.aggregator.internal.tracking;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.api.Config;
import dev.flops.api.strategy.Instruction;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A round's configs are tracked as they were sent: never one learner's as everyone's. */
class ConfigParamsTest {

  @Test
  void aKeyEveryLearnerGotAlike_isOneParam() {
    Map<String, String> params = Tracker.configParams("fit_config.", List.of(
        new Instruction("learner-1", Config.of("local_epochs", 1, "batch_size", 64)),
        new Instruction("learner-2", Config.of("local_epochs", 1, "batch_size", 64))));

    assertEquals(Map.of("fit_config.local_epochs", "1", "fit_config.batch_size", "64"), params);
  }

  @Test
  void aKeyThatDiffersOrThatOnlySomeGot_isOneParamPerLearner() {
    Map<String, String> params = Tracker.configParams("fit_config.", List.of(
        new Instruction("learner-1", Config.of("local_epochs", 1, "lr", 0.1)),
        new Instruction("learner-2", Config.of("local_epochs", 1, "lr", 0.01, "mu", 0.5))));

    assertEquals(Map.of(
        "fit_config.local_epochs", "1",
        "fit_config.lr.learner-1", "0.1",
        "fit_config.lr.learner-2", "0.01",
        "fit_config.mu.learner-2", "0.5"), params);
  }

  @Test
  void noInstructions_noParams() {
    assertEquals(Map.of(), Tracker.configParams("evaluate_config.", List.of()));
  }
}
