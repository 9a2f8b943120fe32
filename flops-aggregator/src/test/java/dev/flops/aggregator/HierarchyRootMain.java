package dev.flops.aggregator;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.nio.file.Path;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The root aggregator of a hierarchical federation as a process of its own, to be killed
 * (SIGKILL) and started again with the same arguments: FedAvg over the parameters of
 * {@link Federations#randomParameters}{@code (seed, false)}, rounds announced to the clusters,
 * a checkpoint directory with resume on, no tracking, the plain-Java kernel (no native libraries
 * to load, so a restart takes about a second). It prints {@code ROUND <n> <learner ids, sorted,
 * comma-separated>} after each round it runs, then {@code FINAL <every value of the final global,
 * tensor after tensor>} (each float as Java prints it, which reads back exactly), and exits with
 * 0 when training succeeded, else 1.
 *
 * <p>Options: {@code --port P --rounds N --min-available N --checkpoint-dir DIR --seed S}.
 */
public final class HierarchyRootMain {
  private HierarchyRootMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = FaultLearnerMain.options(args);
    Aggregator root = Aggregator.builder()
        .host("127.0.0.1")
        .port(Integer.parseInt(options.get("port")))
        .model(new ArrayModel(Federations.randomParameters(Long.parseLong(options.get("seed")),
            false)))
        .averagingKernel(new JavaAveraging())
        .build();
    TrainingPlan plan = TrainingPlan.builder()
        .rounds(Integer.parseInt(options.get("rounds")))
        .minAvailableLearners(Integer.parseInt(options.get("min-available")))
        .tracking(Tracking.off())
        .announceRounds(true)
        .checkpointDirectory(Path.of(options.get("checkpoint-dir")))
        .resume(true)
        .observer(new FederationObserver() {
          @Override
          public void onRoundFinished(RoundSummary summary) {
            FaultLearnerMain.say("ROUND " + summary.round() + " "
                + String.join(",", root.connectedLearners().stream().sorted().toList()));
          }
        })
        .build();
    try (root) {
      root.start();
      TrainingResult result = root.train(plan, FedAvg.builder().build());
      StringJoiner values = new StringJoiner(" ", "FINAL ", "");
      for (Tensor tensor : result.finalParameters()) {
        for (float value : tensor.toFloatArray()) {
          values.add(Float.toString(value));
        }
      }
      FaultLearnerMain.say(values.toString());
    } catch (Exception e) {
      FaultLearnerMain.say("FAILED " + e);
      System.exit(1);
    }
    System.exit(0);
  }
}
