package dev.flops.aggregator;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundRanking;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How one training runs on an aggregator: the loop policy that {@link Aggregator#train} follows,
 * apart from the {@link dev.flops.api.strategy.Strategy} that makes the decisions. Rounds, the
 * timeouts, how many learners and results a round needs and what happens when it gets fewer,
 * where the training is tracked, where it is checkpointed, and who observes it.
 *
 * <pre>{@code
 * TrainingPlan plan = TrainingPlan.builder()
 *     .rounds(5)
 *     .roundTimeout(Duration.ofMinutes(2))
 *     .minAvailableLearners(4)
 *     .minFitResults(3)
 *     .checkpointDirectory(Path.of("checkpoints"))
 *     .build();
 * }</pre>
 *
 * <p>A plan is an immutable value, safe to share between threads and to reuse for several
 * trainings. Its builder checks every value at once and conflicts at {@link Builder#build()}.
 */
public final class TrainingPlan {

  /** Default number of rounds. */
  public static final int DEFAULT_ROUNDS = 3;
  /** Default time one task (fit or evaluate) of a round may take. */
  public static final Duration DEFAULT_ROUND_TIMEOUT = Duration.ofMinutes(10);
  /** Default time a round waits for its minimum of connected learners. */
  public static final Duration DEFAULT_LEARNER_WAIT = Duration.ofMinutes(10);
  /** Default number of attempts a phase gets under {@link InsufficientResults#RETRY}. */
  public static final int DEFAULT_MAX_ROUND_ATTEMPTS = 3;
  /**
   * Config key of the round number (a long, from 1) in every task of a plan that
   * {@linkplain Builder#announceRounds announces rounds}.
   */
  public static final String ROUND_KEY = "flops.round";
  /** Config key of the MLflow experiment id of the announcing training's round run. */
  public static final String EXPERIMENT_ID_KEY = "flops.mlflow.experiment_id";
  /** Config key of the MLflow run id of the announcing training's round run. */
  public static final String PARENT_RUN_ID_KEY = "flops.mlflow.parent_run_id";
  /** Config key of the MLflow tracking URI the announcing training tracks to. */
  public static final String TRACKING_URI_KEY = "flops.mlflow.tracking_uri";

  private final int rounds;
  private final Duration roundTimeout;
  private final Duration learnerWait;
  private final int minAvailableLearners;
  private final int minFitResults;
  private final int minEvaluateResults;
  private final InsufficientResults onInsufficientResults;
  private final int maxRoundAttempts;
  private final Tracking tracking;
  private final String nestUnderExperimentId;
  private final String nestUnderRunId;
  private final String name;
  private final Path checkpointDirectory;
  private final boolean resume;
  private final List<CheckpointExtras> checkpointExtras;
  private final List<FederationObserver> observers;
  private final RoundRanking ranking;
  private final boolean announceRounds;

  private TrainingPlan(Builder b) {
    this.rounds = b.rounds;
    this.roundTimeout = b.roundTimeout;
    this.learnerWait = b.learnerWait;
    this.minAvailableLearners = b.minAvailableLearners;
    this.minFitResults = b.minFitResults;
    this.minEvaluateResults = b.minEvaluateResults;
    this.onInsufficientResults = b.onInsufficientResults;
    this.maxRoundAttempts = b.maxRoundAttempts;
    this.tracking = b.tracking;
    this.nestUnderExperimentId = b.nestUnderExperimentId;
    this.nestUnderRunId = b.nestUnderRunId;
    this.name = b.name;
    this.checkpointDirectory = b.checkpointDirectory;
    this.resume = b.resume;
    this.checkpointExtras = List.copyOf(b.checkpointExtras);
    this.observers = List.copyOf(b.observers);
    this.ranking = b.ranking;
    this.announceRounds = b.announceRounds;
  }

  /**
   * Returns a builder with the defaults: {@value #DEFAULT_ROUNDS} rounds, a 10 minute round timeout
   * and learner wait, every minimum 1, a phase with too few results retried up to
   * {@value #DEFAULT_MAX_ROUND_ATTEMPTS} attempts in all, tracking as {@link Tracking#defaults()}
   * says, no checkpoints, no observers, the best round by {@link RoundRanking#defaults()}.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the plan with every default.
   *
   * @return the plan
   */
  public static TrainingPlan defaults() {
    return builder().build();
  }

  /**
   * Returns a builder that starts from this plan's settings, e.g. to run the next training with one
   * setting changed.
   *
   * @return a new builder holding this plan's settings
   */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.rounds = rounds;
    b.roundTimeout = roundTimeout;
    b.learnerWait = learnerWait;
    b.minAvailableLearners = minAvailableLearners;
    b.minFitResults = minFitResults;
    b.minEvaluateResults = minEvaluateResults;
    b.onInsufficientResults = onInsufficientResults;
    b.maxRoundAttempts = maxRoundAttempts;
    b.maxRoundAttemptsSet = true;
    b.tracking = tracking;
    b.nestUnderExperimentId = nestUnderExperimentId;
    b.nestUnderRunId = nestUnderRunId;
    b.name = name;
    b.checkpointDirectory = checkpointDirectory;
    b.resume = resume;
    b.checkpointExtras.addAll(checkpointExtras);
    b.observers.addAll(observers);
    b.ranking = ranking;
    b.announceRounds = announceRounds;
    return b;
  }

  /** @return the number of rounds, at least 1 */
  public int rounds() {
    return rounds;
  }

  /** @return how long one task (fit or evaluate) of a round may take; positive */
  public Duration roundTimeout() {
    return roundTimeout;
  }

  /** @return how long a round waits for {@link #minAvailableLearners()}; positive */
  public Duration learnerWait() {
    return learnerWait;
  }

  /** @return how many learners must be connected before a round's phase starts; at least 1 */
  public int minAvailableLearners() {
    return minAvailableLearners;
  }

  /** @return the least number of accepted updates for a round to complete; at least 1 */
  public int minFitResults() {
    return minFitResults;
  }

  /** @return the least number of evaluation results for a round to complete; at least 0 */
  public int minEvaluateResults() {
    return minEvaluateResults;
  }

  /** @return what happens when a phase gathers fewer results than its minimum */
  public InsufficientResults onInsufficientResults() {
    return onInsufficientResults;
  }

  /** @return how many attempts a phase gets in all under {@link InsufficientResults#RETRY} */
  public int maxRoundAttempts() {
    return maxRoundAttempts;
  }

  /** @return where the training is tracked; {@link Tracking#defaults()} unless set */
  public Tracking tracking() {
    return tracking;
  }

  /**
   * Returns the MLflow run the training's own run nests under, if any.
   *
   * @return the experiment id and run id, or empty for a top-level run
   */
  public Optional<Map.Entry<String, String>> nestUnder() {
    return nestUnderRunId == null ? Optional.empty()
        : Optional.of(Map.entry(nestUnderExperimentId, nestUnderRunId));
  }

  /** @return the name of the training's MLflow run ("training" unless set) */
  public String name() {
    return name;
  }

  /** @return the checkpoint directory, or empty when no checkpoint is written */
  public Optional<Path> checkpointDirectory() {
    return Optional.ofNullable(checkpointDirectory);
  }

  /** @return whether the training continues from the checkpoint in its directory */
  public boolean resume() {
    return resume;
  }

  /** @return the application's own checkpoint entries, unmodifiable */
  public List<CheckpointExtras> checkpointExtras() {
    return checkpointExtras;
  }

  /** @return the observers of this training's lifecycle events, unmodifiable */
  public List<FederationObserver> observers() {
    return observers;
  }

  /** @return how the best round is chosen */
  public RoundRanking bestRound() {
    return ranking;
  }

  /**
   * @return whether every task carries the round and the round's MLflow run; see
   *     {@link Builder#announceRounds}
   */
  public boolean announcesRounds() {
    return announceRounds;
  }

  /**
   * Describes the loop settings, for logs and tracking (MLflow params).
   *
   * @return setting names (snake_case) and values, in a stable order
   */
  public Map<String, Object> knobs() {
    Map<String, Object> knobs = new LinkedHashMap<>();
    knobs.put("rounds", rounds);
    knobs.put("round_timeout_s", roundTimeout.toMillis() / 1000.0);
    knobs.put("min_available_learners", minAvailableLearners);
    knobs.put("min_fit_results", minFitResults);
    knobs.put("min_evaluate_results", minEvaluateResults);
    knobs.put("on_insufficient_results", onInsufficientResults.name());
    knobs.put("max_round_attempts", maxRoundAttempts);
    return knobs;
  }

  @Override
  public String toString() {
    return "TrainingPlan" + knobs();
  }

  /** Builds a {@link TrainingPlan}; setters check their values at once. */
  public static final class Builder {
    private int rounds = DEFAULT_ROUNDS;
    private Duration roundTimeout = DEFAULT_ROUND_TIMEOUT;
    private Duration learnerWait = DEFAULT_LEARNER_WAIT;
    private int minAvailableLearners = 1;
    private int minFitResults = 1;
    private int minEvaluateResults = 1;
    private InsufficientResults onInsufficientResults = InsufficientResults.RETRY;
    private int maxRoundAttempts = DEFAULT_MAX_ROUND_ATTEMPTS;
    private boolean maxRoundAttemptsSet;
    private Tracking tracking;
    private String nestUnderExperimentId;
    private String nestUnderRunId;
    private String name = "training";
    private Path checkpointDirectory;
    private boolean resume;
    private final List<CheckpointExtras> checkpointExtras = new ArrayList<>();
    private final List<FederationObserver> observers = new ArrayList<>();
    private RoundRanking ranking = RoundRanking.defaults();
    private boolean announceRounds;

    private Builder() {}

    /**
     * Sets the number of rounds (default {@value TrainingPlan#DEFAULT_ROUNDS}).
     *
     * @param rounds at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code rounds} is below 1
     */
    public Builder rounds(int rounds) {
      this.rounds = Knobs.atLeast("rounds", rounds, 1);
      return this;
    }

    /**
     * Sets how long one task (fit or evaluate) of a round may take (default 10 minutes); a
     * learner that has not answered by then counts as failed for that round.
     *
     * @param timeout a positive duration
     * @return this builder
     * @throws IllegalArgumentException if the timeout is zero or negative
     */
    public Builder roundTimeout(Duration timeout) {
      this.roundTimeout = Knobs.positive("roundTimeout", timeout);
      return this;
    }

    /**
     * Sets how long a round waits for {@link #minAvailableLearners(int)} connected learners before
     * training fails (default 10 minutes).
     *
     * @param timeout a positive duration
     * @return this builder
     * @throws IllegalArgumentException if the timeout is zero or negative
     */
    public Builder learnerWait(Duration timeout) {
      this.learnerWait = Knobs.positive("learnerWait", timeout);
      return this;
    }

    /**
     * Sets how many learners must be connected before a round's fit or evaluate phase starts
     * (default 1).
     *
     * @param count at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minAvailableLearners(int count) {
      this.minAvailableLearners = Knobs.atLeast("minAvailableLearners", count, 1);
      return this;
    }

    /**
     * Sets the least number of accepted updates for a round to complete (default 1); see
     * {@link #onInsufficientResults}. A round whose strategy sent no fit task is not checked.
     *
     * @param count at least 1 and at most {@code minAvailableLearners}
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minFitResults(int count) {
      this.minFitResults = Knobs.atLeast("minFitResults", count, 1);
      return this;
    }

    /**
     * Sets the least number of evaluation results for a round to complete (default 1; 0 accepts a
     * round whatever its evaluation gathered); see {@link #onInsufficientResults}. A round whose
     * strategy sent no evaluate task is not checked.
     *
     * @param count at least 0 and at most {@code minAvailableLearners}
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is negative
     */
    public Builder minEvaluateResults(int count) {
      this.minEvaluateResults = Knobs.atLeast("minEvaluateResults", count, 0);
      return this;
    }

    /**
     * Sets what happens when a phase gathers fewer results than its minimum (default
     * {@link InsufficientResults#RETRY}). Results of a phase that fell short never reach the
     * global model.
     *
     * @param policy retry the phase, or fail the training
     * @return this builder
     */
    public Builder onInsufficientResults(InsufficientResults policy) {
      this.onInsufficientResults = Objects.requireNonNull(policy, "onInsufficientResults");
      return this;
    }

    /**
     * Sets how many attempts a phase gets in all under {@link InsufficientResults#RETRY}
     * (default {@value TrainingPlan#DEFAULT_MAX_ROUND_ATTEMPTS}).
     *
     * @param attempts at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code attempts} is below 1
     */
    public Builder maxRoundAttempts(int attempts) {
      this.maxRoundAttempts = Knobs.atLeast("maxRoundAttempts", attempts, 1);
      this.maxRoundAttemptsSet = true;
      return this;
    }

    /**
     * Sets where the training is tracked in MLflow (default {@link Tracking#defaults()}: the
     * {@code MLFLOW_TRACKING_URI} environment variable if set, else the file store
     * {@code ./mlruns}, read when the training starts); {@link Tracking#off()} disables tracking.
     *
     * @param tracking the tracking backend and its options
     * @return this builder
     */
    public Builder tracking(Tracking tracking) {
      this.tracking = Objects.requireNonNull(tracking, "tracking");
      return this;
    }

    /**
     * Nests the training's MLflow run under an existing run of the same tracking backend (default:
     * a top-level run), e.g. a cluster's training under the root aggregator's round run in a
     * hierarchical federation, or several experiments' trainings under one sweep run.
     *
     * @param experimentId the experiment that holds {@code runId}; the training is tracked there
     * @param runId the run to nest under ({@code mlflow.parentRunId})
     * @return this builder
     * @throws IllegalArgumentException if an id is blank
     */
    public Builder nestUnder(String experimentId, String runId) {
      Objects.requireNonNull(experimentId, "experimentId");
      Objects.requireNonNull(runId, "runId");
      if (experimentId.isBlank() || runId.isBlank()) {
        throw new IllegalArgumentException("nestUnder needs an experiment id and a run id but got "
            + "experimentId='" + experimentId + "', runId='" + runId + "'");
      }
      this.nestUnderExperimentId = experimentId;
      this.nestUnderRunId = runId;
      return this;
    }

    /**
     * Names the training's MLflow run (default "training"), e.g. "cycle 2" or "lr=0.01".
     *
     * @param name a non-blank name
     * @return this builder
     * @throws IllegalArgumentException if the name is blank
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("name must not be blank");
      }
      this.name = name;
      return this;
    }

    /**
     * Makes the training write a checkpoint into {@code directory} after every completed round
     * (default: no checkpoints): global parameters, round, strategy state, round summaries and
     * best round, learner identities, {@link CheckpointExtras} and the MLflow ids. The directory
     * is created if needed and locked while the training runs; it must not hold a checkpoint
     * unless {@link #resume resume} is on.
     *
     * @param directory a directory of its own for this training
     * @return this builder
     */
    public Builder checkpointDirectory(Path directory) {
      this.checkpointDirectory = Objects.requireNonNull(directory, "checkpointDirectory");
      return this;
    }

    /**
     * Makes the training continue from the checkpoint in its checkpoint directory, if there is
     * one, with the round after it (default false). Without a checkpoint yet, training starts from
     * round 1, so a supervisor may always start with resume on. The learners, which reconnect by
     * themselves, keep their ids, and the MLflow runs continue.
     *
     * @param resume whether to resume
     * @return this builder
     */
    public Builder resume(boolean resume) {
      this.resume = resume;
      return this;
    }

    /**
     * Adds entries of the application's own to every checkpoint, and receives them back on
     * resume; see {@link CheckpointExtras}.
     *
     * @param extras the provider of the entries
     * @return this builder
     */
    public Builder checkpointExtras(CheckpointExtras extras) {
      checkpointExtras.add(Objects.requireNonNull(extras, "checkpointExtras"));
      return this;
    }

    /**
     * Adds an observer of the training's lifecycle events.
     *
     * @param observer the observer; called on the training thread, its exceptions contained
     * @return this builder
     */
    public Builder observer(FederationObserver observer) {
      observers.add(Objects.requireNonNull(observer, "observer"));
      return this;
    }

    /**
     * Sets how the best round is chosen (default {@link RoundRanking#defaults()}: the highest
     * federated accuracy, and the lowest loss where no accuracy is reported). Learners must report
     * the ranking metric as a number: a result that carries it otherwise is refused.
     *
     * @param ranking e.g. {@code RoundRanking.minimize("mse")} for a regression model
     * @return this builder
     */
    public Builder bestRound(RoundRanking ranking) {
      this.ranking = Objects.requireNonNull(ranking, "bestRound");
      return this;
    }

    /**
     * Makes every fit and evaluate task carry its round and, when the training is tracked, its
     * round's MLflow run (default false): config entries {@value TrainingPlan#ROUND_KEY} (the
     * round, a long) and, once the tracking backend has created the round's run (the loop waits
     * at most half a second for it), {@value TrainingPlan#EXPERIMENT_ID_KEY},
     * {@value TrainingPlan#PARENT_RUN_ID_KEY} and {@value TrainingPlan#TRACKING_URI_KEY}. A root
     * aggregator of a hierarchical federation turns it on so that each {@link ClusterTrainer}
     * knows the root round it trains for and nests its own runs under that round's run. The
     * entries override a strategy's entries of the same keys.
     *
     * @param announce whether to announce rounds
     * @return this builder
     */
    public Builder announceRounds(boolean announce) {
      this.announceRounds = announce;
      return this;
    }

    /**
     * Builds the plan.
     *
     * @return the plan
     * @throws IllegalStateException if settings conflict: a minimum of results above
     *     {@code minAvailableLearners}, {@code maxRoundAttempts} with
     *     {@link InsufficientResults#FAIL}, or {@code resume} without a checkpoint directory; the
     *     message says how to fix it
     */
    public TrainingPlan build() {
      if (maxRoundAttemptsSet && maxRoundAttempts > 1
          && onInsufficientResults == InsufficientResults.FAIL) {
        throw new IllegalStateException(String.format(
            "maxRoundAttempts (%d) conflicts with onInsufficientResults(FAIL), which never "
                + "retries; use onInsufficientResults(RETRY) or drop maxRoundAttempts",
            maxRoundAttempts));
      }
      if (minFitResults > minAvailableLearners) {
        throw new IllegalStateException(String.format(
            "minFitResults (%d) exceeds minAvailableLearners (%d): a round could start without "
                + "enough learners to fit; raise minAvailableLearners to at least %d",
            minFitResults, minAvailableLearners, minFitResults));
      }
      if (minEvaluateResults > minAvailableLearners) {
        throw new IllegalStateException(String.format(
            "minEvaluateResults (%d) exceeds minAvailableLearners (%d): a round could start "
                + "without enough learners to evaluate; raise minAvailableLearners to at least %d",
            minEvaluateResults, minAvailableLearners, minEvaluateResults));
      }
      if (resume && checkpointDirectory == null) {
        throw new IllegalStateException("resume(true) needs checkpointDirectory(...): the "
            + "directory whose checkpoint the training continues from");
      }
      if (tracking == null) {
        tracking = Tracking.defaults();
      }
      return new TrainingPlan(this);
    }
  }
}
