package dev.flops.aggregator;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FederatedModel;
import dev.flops.api.FitResult;
import dev.flops.api.LocalTrainer;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.Strategy;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local work of a cluster aggregator in a hierarchical federation: a cluster aggregator is a
 * learner of the root aggregator, and its fit runs training cycles of its own federation. Wire it
 * into a learner of the root:
 *
 * <pre>{@code
 * Aggregator cluster = Aggregator.builder().port(50061).model(clusterModel).build().start();
 * ClusterTrainer trainer = ClusterTrainer.builder()
 *     .aggregator(cluster)                                  // its model copy is the trainer's model
 *     .cycles(TrainingPlan.builder().rounds(2).minAvailableLearners(3).build())
 *     .strategy(FedAvg.builder().build())
 *     .checkpointDirectory(Path.of("cluster-checkpoints")) // optional
 *     .build();
 * Learner.builder().aggregator("root-host:50051").name("cluster-a").trainer(trainer).build().run();
 * }</pre>
 *
 * <p>A fit task of the root ({@link #fit}) runs {@code cycles.rounds()} rounds of the cluster's
 * federation ({@link Aggregator#train}) from the root's global parameters, which the learner
 * runtime has set into the model copy, and answers the cluster's final parameters weighted by the
 * examples its last cycle aggregated. An evaluate task ({@link #evaluate}) runs one round in which
 * the cluster's learners evaluate the root's global parameters and nobody fits. The cluster's
 * learners stay connected from one root round to the next. A cluster training that fails fails
 * this task at the root (the root counts a failed learner), never the root's training.
 *
 * <p><b>Rounds, tracking and checkpoints.</b> When the root's plan
 * {@linkplain TrainingPlan.Builder#announceRounds announces rounds}, each fit knows its root round
 * N (otherwise fits are counted from 1) and its training is named "root round N". If the cluster
 * tracks to the same MLflow store as the root (the same tracking URI), its training is nested under
 * the root's run of round N, so that each cluster's cycles appear under the root's round; if it
 * tracks to another store, a parent in that store could not be found, so its trainings are
 * top-level runs of its own experiment there. With a checkpoint directory D, the fit of root round
 * N checkpoints every cycle in {@code D/root-round-N-<crc>} with resume on, where {@code <crc>}
 * identifies the root's global parameters it started from: a cluster restarted while the root
 * re-runs round N (the root resumed from its checkpoint) continues its cycles instead of
 * repeating them, and a new training of the root never resumes an older one's directory. These
 * directories are not deleted; remove them once the root's training is done.
 *
 * <p>Thread rules: the learner runtime calls {@link #fit} and {@link #evaluate} from its one
 * session thread, so the cluster runs one training at a time. The cluster's {@link Aggregator}
 * stays the application's: start it before the root's first task arrives and close it at the end.
 */
public final class ClusterTrainer implements LocalTrainer {
  private static final Logger log = LoggerFactory.getLogger(ClusterTrainer.class);

  /** Fit metric: the federated accuracy of the cluster's last evaluated cycle. */
  public static final String CLUSTER_ACCURACY = "cluster_accuracy";
  /** Fit metric: the federated loss of the cluster's last evaluated cycle. */
  public static final String CLUSTER_LOSS = "cluster_loss";

  private final Aggregator aggregator;
  private final FederatedModel model;
  private final TrainingPlan cycles;
  private final Strategy strategy;
  private final Path checkpointDirectory;
  private int unannouncedFits;
  private boolean otherStoreLogged;

  private ClusterTrainer(Builder b) {
    this.aggregator = b.aggregator;
    this.model = b.aggregator.model();
    this.cycles = b.cycles;
    this.strategy = b.strategy;
    this.checkpointDirectory = b.checkpointDirectory;
  }

  /**
   * Returns a new builder.
   *
   * @return a builder; {@link Builder#aggregator} and {@link Builder#strategy} are required
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the cluster aggregator's model copy: the learner runtime sets the root's global
   * parameters into it before each task, and the cluster's trainings start from it.
   *
   * @return the model the cluster's {@link Aggregator} was built with
   */
  @Override
  public FederatedModel model() {
    return model;
  }

  /**
   * Runs the training cycles of one root round on the cluster's learners.
   *
   * @param config the root's fit config; {@value TrainingPlan#ROUND_KEY} and the MLflow entries
   *     of an announcing root are read, the rest is ignored (the cluster's strategy configures its
   *     own learners)
   * @return the cluster's final parameters; the examples its last cycle aggregated; that cycle's
   *     aggregated fit metrics plus {@value #CLUSTER_ACCURACY} and {@value #CLUSTER_LOSS} of the
   *     last federated evaluation of the cycles, if any
   * @throws TrainingException if the cluster's training stopped before its last cycle
   * @throws IllegalStateException if the last cycle aggregated no examples (the strategy asked no
   *     learner to fit)
   * @throws InterruptedException if the learner runtime is stopping
   */
  @Override
  public FitResult fit(Config config) throws InterruptedException {
    int rootRound = config.contains(TrainingPlan.ROUND_KEY)
        ? config.getInt(TrainingPlan.ROUND_KEY, 0) : ++unannouncedFits;
    TrainingPlan.Builder plan = cycles.toBuilder().name(runName(rootRound));
    nestUnderRoot(plan, config);
    if (checkpointDirectory != null) {
      plan.checkpointDirectory(checkpointDirectory.resolve(String.format(Locale.ROOT,
          "root-round-%d-%08x", rootRound, crc(model.getParameters())))).resume(true);
    }
    TrainingResult result = aggregator.train(plan.build(), ClusterStrategy.fit(strategy));
    RoundSummary last = result.finalRound();
    if (last.fitExamples() <= 0) {
      throw new IllegalStateException("the cluster's last cycle (round " + last.round()
          + " of root round " + rootRound + ") aggregated no examples, so the root could not weigh "
          + "its parameters; the cluster's strategy must ask at least one learner to fit");
    }
    Map<String, Double> metrics = new LinkedHashMap<>(last.fitMetrics());
    lastEvaluation(result.rounds()).ifPresent(evaluation -> {
      metrics.put(CLUSTER_LOSS, evaluation.loss());
      if (!Double.isNaN(evaluation.accuracy())) {
        metrics.put(CLUSTER_ACCURACY, evaluation.accuracy());
      }
    });
    return new FitResult(result.finalParameters(), last.fitExamples(), metrics);
  }

  /**
   * Has the cluster's learners evaluate the root's global parameters in one round in which nobody
   * fits (untracked, not checkpointed).
   *
   * @param config the root's evaluate config; ignored (the cluster's strategy configures its own
   *     learners)
   * @return the cluster's federated evaluation: its loss, examples and metrics
   * @throws TrainingException if the cluster's round failed, e.g. too few evaluation results
   * @throws IllegalStateException if the round produced no federated evaluation (the cluster's
   *     strategy asked no learner to evaluate)
   * @throws InterruptedException if the learner runtime is stopping
   */
  @Override
  public EvaluateResult evaluate(Config config) throws InterruptedException {
    int rootRound = config.getInt(TrainingPlan.ROUND_KEY, unannouncedFits);
    TrainingPlan plan = cycles.toBuilder()
        .rounds(1)
        .tracking(Tracking.off())
        .name("evaluate " + runName(rootRound))
        .build();
    TrainingResult result = aggregator.train(plan, ClusterStrategy.evaluateOnly(strategy));
    Evaluation evaluation = result.finalRound().evaluation();
    if (evaluation == null) {
      throw new IllegalStateException("the cluster's evaluate round gathered no federated "
          + "evaluation: its strategy asked no learner to evaluate (is its fractionEvaluate 0?)");
    }
    return new EvaluateResult(evaluation.loss(), evaluation.numExamples(), evaluation.metrics());
  }

  private String runName(int rootRound) {
    String base = "root round " + rootRound;
    return cycles.name().equals(TrainingPlan.defaults().name()) ? base
        : cycles.name() + ", " + base;
  }

  /** Nests the training under the root's round run when both track to the same store. */
  private void nestUnderRoot(TrainingPlan.Builder plan, Config config) {
    String experiment = config.getString(TrainingPlan.EXPERIMENT_ID_KEY, null);
    String parent = config.getString(TrainingPlan.PARENT_RUN_ID_KEY, null);
    if (!cycles.tracking().enabled() || experiment == null || parent == null) {
      return;
    }
    String rootStore = config.getString(TrainingPlan.TRACKING_URI_KEY, null);
    String ownStore = cycles.tracking().trackingUri();
    if (rootStore != null && !rootStore.equals(ownStore)) {
      if (!otherStoreLogged) {
        otherStoreLogged = true;
        log.info("the root tracks to {} and this cluster to {}: the cluster's trainings are "
            + "top-level runs there, not nested under the root's rounds", rootStore, ownStore);
      }
      return;
    }
    plan.nestUnder(experiment, parent);
  }

  private static java.util.Optional<Evaluation> lastEvaluation(List<RoundSummary> rounds) {
    for (int i = rounds.size() - 1; i >= 0; i--) {
      if (rounds.get(i).evaluation() != null) {
        return java.util.Optional.of(rounds.get(i).evaluation());
      }
    }
    return java.util.Optional.empty();
  }

  /** Identifies the parameters a fit started from: names, shapes and values. */
  private static long crc(Parameters parameters) {
    CRC32C crc = new CRC32C();
    for (Tensor tensor : parameters) {
      crc.update(tensor.spec().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      crc.update(tensor.data());
    }
    return crc.getValue();
  }

  @Override
  public String toString() {
    return "ClusterTrainer[" + cycles.rounds() + " cycles of " + strategy + "]";
  }

  /** Builds a {@link ClusterTrainer}; setters check their values at once. */
  public static final class Builder {
    private Aggregator aggregator;
    private TrainingPlan cycles = TrainingPlan.defaults();
    private Strategy strategy;
    private Path checkpointDirectory;

    private Builder() {}

    /**
     * Sets the cluster's aggregator, on which every root task runs a training. Its model copy
     * becomes this trainer's {@link ClusterTrainer#model() model}.
     *
     * @param aggregator the cluster's aggregator, started before the root's first task arrives
     * @return this builder
     */
    public Builder aggregator(Aggregator aggregator) {
      this.aggregator = Objects.requireNonNull(aggregator, "aggregator");
      return this;
    }

    /**
     * Sets the plan of the cluster's training in each root round (default
     * {@link TrainingPlan#defaults()}): its rounds are the training cycles per root round; its
     * minimums, timeouts, tracking and observers apply to every cluster training. The root's
     * round timeout must cover all cycles of a root round.
     *
     * @param cycles a plan without a checkpoint directory (see {@link #checkpointDirectory})
     * @return this builder
     * @throws IllegalArgumentException if the plan has a checkpoint directory or resume on
     */
    public Builder cycles(TrainingPlan cycles) {
      Objects.requireNonNull(cycles, "cycles");
      if (cycles.checkpointDirectory().isPresent() || cycles.resume()) {
        throw new IllegalArgumentException("the cycles plan has checkpointDirectory "
            + cycles.checkpointDirectory().orElse(null) + ": a cluster keeps one checkpoint per "
            + "root round, so give the directory to ClusterTrainer.Builder.checkpointDirectory "
            + "instead and leave it out of the plan");
      }
      this.cycles = cycles;
      return this;
    }

    /**
     * Sets the strategy of the cluster's federation. Its initial parameters, if any, are not
     * used: every cluster training starts from the root's global parameters.
     *
     * @param strategy the decisions of the cluster's rounds
     * @return this builder
     */
    public Builder strategy(Strategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    /**
     * Makes each fit checkpoint its cycles under {@code directory} (default: no checkpoints), in
     * one subdirectory per root round and starting parameters, with resume on; see
     * {@link ClusterTrainer}.
     *
     * @param directory a directory of this cluster's own
     * @return this builder
     */
    public Builder checkpointDirectory(Path directory) {
      this.checkpointDirectory = Objects.requireNonNull(directory, "checkpointDirectory");
      return this;
    }

    /**
     * Builds the trainer.
     *
     * @return the trainer
     * @throws IllegalStateException if the aggregator or the strategy is missing
     */
    public ClusterTrainer build() {
      if (aggregator == null) {
        throw new IllegalStateException("aggregator(...) is required: the cluster's own "
            + "Aggregator, whose learners run the cycles");
      }
      if (strategy == null) {
        throw new IllegalStateException("strategy(...) is required: the strategy of the "
            + "cluster's rounds, e.g. FedAvg.builder().build()");
      }
      return new ClusterTrainer(this);
    }
  }
}
