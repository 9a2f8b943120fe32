package dev.flops.api.strategy;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * Federated Averaging (McMahan et al., 2017): each round samples learners, and the new global
 * parameters are the mean of their updates weighted by the number of examples each trained on.
 * Federated evaluation is the example-weighted mean of the learners' losses and metrics.
 *
 * <p>A round completes only with at least {@code minFitLearners} accepted updates and
 * {@code minEvaluateLearners} evaluation results; a phase that falls short is retried or fails
 * training, as {@code onInsufficientResults} says (default: retry, 3 attempts in all).
 *
 * <pre>{@code
 * FedAvg fedAvg = FedAvg.builder()
 *     .rounds(5)
 *     .fractionFit(0.5)
 *     .minFitLearners(2)
 *     .minAvailableLearners(4)
 *     .fitConfig(round -> Config.of("local_epochs", 1, "batch_size", 64))
 *     .build();
 * }</pre>
 */
public final class FedAvg implements Strategy {

  /** Default number of rounds. */
  public static final int DEFAULT_ROUNDS = 3;
  /** Default timeout of one task of a round. */
  public static final Duration DEFAULT_ROUND_TIMEOUT = Duration.ofMinutes(10);
  /** Default number of attempts a round phase gets under {@link InsufficientResults#RETRY}. */
  public static final int DEFAULT_MAX_ROUND_ATTEMPTS = 3;

  private static final String STATE_SEED = "sampling_seed";
  private static final String STATE_DRAWS = "sampling_draws";

  private final int rounds;
  private final double fractionFit;
  private final double fractionEvaluate;
  private final int minFitLearners;
  private final int minEvaluateLearners;
  private final int minAvailableLearners;
  private final boolean acceptFailures;
  private final Duration roundTimeout;
  private final IntFunction<Config> fitConfig;
  private final IntFunction<Config> evaluateConfig;
  private final Parameters initialParameters;
  private final InsufficientResults onInsufficientResults;
  private final int maxRoundAttempts;
  private final CentralEvaluation centralEvaluation;
  /** Sampling is a pure function of this seed and {@link #draws}, so a checkpoint can hold it. */
  private long samplingSeed;
  private long draws;

  private FedAvg(Builder builder) {
    this.rounds = builder.rounds;
    this.fractionFit = builder.fractionFit;
    this.fractionEvaluate = builder.fractionEvaluate;
    this.minFitLearners = builder.minFitLearners;
    this.minEvaluateLearners = builder.minEvaluateLearners;
    this.minAvailableLearners = builder.minAvailableLearners;
    this.acceptFailures = builder.acceptFailures;
    this.roundTimeout = builder.roundTimeout;
    this.fitConfig = builder.fitConfig;
    this.evaluateConfig = builder.evaluateConfig;
    this.initialParameters = builder.initialParameters;
    this.onInsufficientResults = builder.onInsufficientResults;
    this.maxRoundAttempts = builder.maxRoundAttempts;
    this.centralEvaluation = builder.centralEvaluation;
    this.samplingSeed =
        builder.samplingSeed == null ? new SplittableRandom().nextLong() : builder.samplingSeed;
  }

  /**
   * Returns a builder with the defaults: 3 rounds, both fractions 1.0, every minimum 1, failures
   * accepted, a 10 minute round timeout, empty configs, a phase with too few results retried up to
   * 3 attempts in all.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns FedAvg with every default.
   *
   * @return a new strategy
   */
  public static FedAvg withDefaults() {
    return builder().build();
  }

  @Override
  public int rounds() {
    return rounds;
  }

  @Override
  public Duration roundTimeout() {
    return roundTimeout;
  }

  @Override
  public int minAvailableLearners() {
    return minAvailableLearners;
  }

  /** Returns {@code minFitLearners}: a round needs that many accepted updates. */
  @Override
  public int minFitResults() {
    return minFitLearners;
  }

  /** Returns {@code minEvaluateLearners}: a round needs that many evaluation results. */
  @Override
  public int minEvaluateResults() {
    return minEvaluateLearners;
  }

  @Override
  public InsufficientResults onInsufficientResults() {
    return onInsufficientResults;
  }

  @Override
  public int maxRoundAttempts() {
    return maxRoundAttempts;
  }

  /**
   * Returns the sampling state: {@code sampling_seed} and {@code sampling_draws}, the number of
   * samples drawn so far.
   */
  @Override
  public Map<String, String> saveState() {
    return Map.of(STATE_SEED, Long.toString(samplingSeed), STATE_DRAWS, Long.toString(draws));
  }

  /**
   * Restores the sampling state saved by {@link #saveState()}, so that a resumed federation samples
   * the same learners as an uninterrupted one would.
   *
   * @throws IllegalArgumentException if an entry is missing or not a number
   */
  @Override
  public void restoreState(Map<String, String> state) {
    long seed = stateEntry(state, STATE_SEED);
    long drawn = stateEntry(state, STATE_DRAWS);
    if (drawn < 0) {
      throw new IllegalArgumentException("FedAvg state " + STATE_DRAWS + " must not be negative "
          + "but was " + drawn);
    }
    this.samplingSeed = seed;
    this.draws = drawn;
  }

  private static long stateEntry(Map<String, String> state, String key) {
    String value = state.get(key);
    if (value == null) {
      throw new IllegalArgumentException("FedAvg state lacks '" + key + "'; it holds "
          + state.keySet() + " (was the checkpoint written by another strategy?)");
    }
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "FedAvg state '" + key + "' must be a whole number but was '" + value + "'", e);
    }
  }

  @Override
  public Parameters initializeParameters(Parameters modelParameters) {
    if (initialParameters == null) {
      return modelParameters;
    }
    initialParameters.describeMismatch(modelParameters).ifPresent(mismatch -> {
      throw new IllegalArgumentException(
          "FedAvg initialParameters do not match the aggregator's model: " + mismatch);
    });
    return initialParameters;
  }

  @Override
  public List<Instruction> configureFit(int round, Parameters global, List<String> available) {
    return instructions(
        sample(available, fractionFit, minFitLearners), fitConfig.apply(round), round);
  }

  @Override
  public FitAggregation beginFitAggregation(int round, Parameters global, AveragingKernel kernel) {
    return new WeightedMean(kernel.begin(global), acceptFailures);
  }

  @Override
  public List<Instruction> configureEvaluate(int round, Parameters global, List<String> available) {
    return instructions(
        sample(available, fractionEvaluate, minEvaluateLearners), evaluateConfig.apply(round), round);
  }

  @Override
  public Optional<Evaluation> aggregateEvaluate(
      int round, List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures) {
    if (results.isEmpty() || (!acceptFailures && !failures.isEmpty())) {
      return Optional.empty();
    }
    return Optional.of(weightedEvaluation(results));
  }

  /**
   * Evaluates the global parameters with the {@link Builder#centralEvaluation} function, if one
   * was given.
   *
   * @param round the round, from 1
   * @param global the new global parameters
   * @return the central evaluation, or empty without a central evaluation function
   * @throws NullPointerException if the function returns null
   */
  @Override
  public Optional<EvaluateResult> evaluate(int round, Parameters global) {
    if (centralEvaluation == null) {
      return Optional.empty();
    }
    return Optional.of(Objects.requireNonNull(centralEvaluation.evaluate(round, global),
        () -> "the central evaluation function returned null for round " + round));
  }

  /**
   * Computes the example-weighted mean loss and metrics of evaluation results. A metric is
   * averaged over the learners that reported it, weighted by their example counts.
   *
   * <p>The sums cannot overflow: every result follows {@link dev.flops.api.ReportedNumbers} (values
   * at most 1e100 in magnitude, at most 2<sup>32</sup> examples each), so with fewer than
   * 2<sup>31</sup> results the example total stays below 2<sup>63</sup> and each weighted sum below
   * 1e119.
   *
   * @param results at least one result
   * @return the federated evaluation
   * @throws IllegalArgumentException if there are no results
   */
  public static Evaluation weightedEvaluation(List<LearnerResult<EvaluateResult>> results) {
    if (results.isEmpty()) {
      throw new IllegalArgumentException("no evaluation results to aggregate");
    }
    long examples = 0;
    double lossSum = 0;
    Map<String, double[]> metricSums = new TreeMap<>();
    for (LearnerResult<EvaluateResult> learnerResult : results) {
      EvaluateResult result = learnerResult.result();
      examples = Math.addExact(examples, result.numExamples());
      lossSum += result.loss() * result.numExamples();
      result.metrics().forEach((name, value) -> {
        double[] sum = metricSums.computeIfAbsent(name, k -> new double[2]);
        sum[0] += value * result.numExamples();
        sum[1] += result.numExamples();
      });
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    metricSums.forEach((name, sum) -> metrics.put(name, sum[0] / sum[1]));
    return new Evaluation(lossSum / examples, examples, results.size(), metrics);
  }

  /**
   * Describes the knobs, for logs and tracking.
   *
   * @return knob names and values
   */
  @Override
  public Map<String, Object> knobs() {
    Map<String, Object> knobs = new LinkedHashMap<>();
    knobs.put("rounds", rounds);
    knobs.put("fraction_fit", fractionFit);
    knobs.put("fraction_evaluate", fractionEvaluate);
    knobs.put("min_fit_learners", minFitLearners);
    knobs.put("min_evaluate_learners", minEvaluateLearners);
    knobs.put("min_available_learners", minAvailableLearners);
    knobs.put("accept_failures", acceptFailures);
    knobs.put("round_timeout_s", roundTimeout.toMillis() / 1000.0);
    knobs.put("on_insufficient_results", onInsufficientResults.name());
    knobs.put("max_round_attempts", maxRoundAttempts);
    return knobs;
  }

  @Override
  public String toString() {
    return "FedAvg" + knobs();
  }

  private List<String> sample(List<String> available, double fraction, int minimum) {
    int wanted = Math.max((int) (available.size() * fraction), minimum);
    List<String> shuffled = new ArrayList<>(available);
    if (wanted >= shuffled.size()) {
      return shuffled;
    }
    // Each draw has its own generator derived from (seed, draw number): the state is two numbers.
    long drawSeed = new SplittableRandom(samplingSeed ^ (draws++ * 0x9E3779B97F4A7C15L)).nextLong();
    Collections.shuffle(shuffled, new Random(drawSeed));
    return shuffled.subList(0, wanted);
  }

  private static List<Instruction> instructions(List<String> learners, Config config, int round) {
    Objects.requireNonNull(config, () -> "the config function returned null for round " + round);
    List<Instruction> instructions = new ArrayList<>(learners.size());
    for (String learner : learners) {
      instructions.add(new Instruction(learner, config));
    }
    return instructions;
  }

  /** Folds each update into a weighted sum as it arrives; weights are example counts. */
  private static final class WeightedMean implements FitAggregation {
    private final AveragingKernel.WeightedSum sum;
    private final boolean acceptFailures;

    WeightedMean(AveragingKernel.WeightedSum sum, boolean acceptFailures) {
      this.sum = sum;
      this.acceptFailures = acceptFailures;
    }

    @Override
    public void accept(LearnerResult<FitResult> result) {
      sum.add(result.result().parameters(), result.result().numExamples());
    }

    @Override
    public void discard() {
      sum.close();
    }

    @Override
    public Optional<Parameters> finish(List<LearnerFailure> failures) {
      try (sum) {
        if (sum.count() == 0 || (!acceptFailures && !failures.isEmpty())) {
          return Optional.empty();
        }
        return Optional.of(sum.mean());
      }
    }
  }

  /**
   * Builds a {@link FedAvg}. Every setter checks its value at once; {@link #build()} checks that the
   * values agree with each other.
   */
  public static final class Builder {
    private int rounds = DEFAULT_ROUNDS;
    private double fractionFit = 1.0;
    private double fractionEvaluate = 1.0;
    private int minFitLearners = 1;
    private int minEvaluateLearners = 1;
    private int minAvailableLearners = 1;
    private boolean acceptFailures = true;
    private Duration roundTimeout = DEFAULT_ROUND_TIMEOUT;
    private IntFunction<Config> fitConfig = round -> Config.empty();
    private IntFunction<Config> evaluateConfig = round -> Config.empty();
    private Parameters initialParameters;
    private Long samplingSeed;
    private InsufficientResults onInsufficientResults = InsufficientResults.RETRY;
    private int maxRoundAttempts = DEFAULT_MAX_ROUND_ATTEMPTS;
    private boolean maxRoundAttemptsSet;
    private CentralEvaluation centralEvaluation;

    private Builder() {}

    /**
     * Evaluates the global parameters on the aggregator after every round (default: none), e.g.
     * on a central test set; the aggregator logs the result as the round's central evaluation.
     *
     * @param evaluation the function, called on the training thread once a round
     * @return this builder
     * @throws NullPointerException if {@code evaluation} is null
     */
    public Builder centralEvaluation(CentralEvaluation evaluation) {
      this.centralEvaluation = Objects.requireNonNull(evaluation, "centralEvaluation");
      return this;
    }

    /**
     * Sets the number of rounds (default 3).
     *
     * @param rounds at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code rounds} is below 1
     */
    public Builder rounds(int rounds) {
      if (rounds < 1) {
        throw new IllegalArgumentException("rounds must be at least 1 but was " + rounds);
      }
      this.rounds = rounds;
      return this;
    }

    /**
     * Sets the fraction of available learners sampled to fit each round (default 1.0).
     *
     * @param fraction in (0, 1]
     * @return this builder
     * @throws IllegalArgumentException if the fraction is outside (0, 1]
     */
    public Builder fractionFit(double fraction) {
      this.fractionFit = checkFraction("fractionFit", fraction);
      return this;
    }

    /**
     * Sets the fraction of available learners sampled to evaluate each round (default 1.0).
     *
     * @param fraction in (0, 1]
     * @return this builder
     * @throws IllegalArgumentException if the fraction is outside (0, 1]
     */
    public Builder fractionEvaluate(double fraction) {
      this.fractionEvaluate = checkFraction("fractionEvaluate", fraction);
      return this;
    }

    /**
     * Sets the least number of learners sampled to fit (default 1). It is also the least number of
     * accepted updates a round needs to complete; see {@link #onInsufficientResults}.
     *
     * @param count at least 1 and at most {@code minAvailableLearners}
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minFitLearners(int count) {
      this.minFitLearners = checkCount("minFitLearners", count);
      return this;
    }

    /**
     * Sets the least number of learners sampled to evaluate (default 1). It is also the least
     * number of evaluation results a round needs to complete; see {@link #onInsufficientResults}.
     *
     * @param count at least 1 and at most {@code minAvailableLearners}
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minEvaluateLearners(int count) {
      this.minEvaluateLearners = checkCount("minEvaluateLearners", count);
      return this;
    }

    /**
     * Sets how many learners must be connected before a round starts (default 1).
     *
     * @param count at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minAvailableLearners(int count) {
      this.minAvailableLearners = checkCount("minAvailableLearners", count);
      return this;
    }

    /**
     * Sets whether a round with failed learners still aggregates the results that arrived (default
     * true). When false, any failure keeps the previous global parameters for that round.
     *
     * @param accept whether to aggregate despite failures
     * @return this builder
     */
    public Builder acceptFailures(boolean accept) {
      this.acceptFailures = accept;
      return this;
    }

    /**
     * Sets how long one task of a round may take (default 10 minutes).
     *
     * @param timeout a positive duration
     * @return this builder
     * @throws IllegalArgumentException if the timeout is zero or negative
     */
    public Builder roundTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "roundTimeout");
      if (timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("roundTimeout must be positive but was " + timeout);
      }
      this.roundTimeout = timeout;
      return this;
    }

    /**
     * Sets the function that gives each round's fit configuration (default: empty).
     *
     * @param fitConfig maps the round number to the config sent with fit tasks
     * @return this builder
     */
    public Builder fitConfig(IntFunction<Config> fitConfig) {
      this.fitConfig = Objects.requireNonNull(fitConfig, "fitConfig");
      return this;
    }

    /**
     * Sets the function that gives each round's evaluate configuration (default: empty).
     *
     * @param evaluateConfig maps the round number to the config sent with evaluate tasks
     * @return this builder
     */
    public Builder evaluateConfig(IntFunction<Config> evaluateConfig) {
      this.evaluateConfig = Objects.requireNonNull(evaluateConfig, "evaluateConfig");
      return this;
    }

    /**
     * Starts from these parameters instead of the aggregator model's own (default: the model's).
     *
     * @param parameters initial global parameters with the model's structure
     * @return this builder
     */
    public Builder initialParameters(Parameters parameters) {
      this.initialParameters = Objects.requireNonNull(parameters, "initialParameters");
      return this;
    }

    /**
     * Sets what happens when a round's fit phase accepts fewer than {@code minFitLearners} updates
     * or its evaluate phase gathers fewer than {@code minEvaluateLearners} results (default
     * {@link InsufficientResults#RETRY}). Results of a phase that fell short never reach the global
     * model.
     *
     * @param policy retry the phase, or fail the training
     * @return this builder
     */
    public Builder onInsufficientResults(InsufficientResults policy) {
      this.onInsufficientResults = Objects.requireNonNull(policy, "onInsufficientResults");
      return this;
    }

    /**
     * Sets how many attempts a round phase gets in all under {@link InsufficientResults#RETRY}
     * (default {@value FedAvg#DEFAULT_MAX_ROUND_ATTEMPTS}).
     *
     * @param attempts at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code attempts} is below 1
     */
    public Builder maxRoundAttempts(int attempts) {
      this.maxRoundAttempts = checkCount("maxRoundAttempts", attempts);
      this.maxRoundAttemptsSet = true;
      return this;
    }

    /**
     * Makes learner sampling reproducible (default: a random seed).
     *
     * @param seed the seed of the sampling random generator
     * @return this builder
     */
    public Builder samplingSeed(long seed) {
      this.samplingSeed = seed;
      return this;
    }

    /**
     * Builds the strategy.
     *
     * @return the strategy
     * @throws IllegalStateException if a minimum exceeds {@code minAvailableLearners}, or if
     *     {@code maxRoundAttempts} was set together with {@link InsufficientResults#FAIL}
     */
    public FedAvg build() {
      if (maxRoundAttemptsSet && maxRoundAttempts > 1
          && onInsufficientResults == InsufficientResults.FAIL) {
        throw new IllegalStateException(String.format(
            "maxRoundAttempts (%d) conflicts with onInsufficientResults(FAIL), which never "
                + "retries; use onInsufficientResults(RETRY) or drop maxRoundAttempts",
            maxRoundAttempts));
      }
      if (minFitLearners > minAvailableLearners) {
        throw new IllegalStateException(String.format(
            "minFitLearners (%d) exceeds minAvailableLearners (%d): a round could start without "
                + "enough learners to fit; raise minAvailableLearners to at least %d",
            minFitLearners, minAvailableLearners, minFitLearners));
      }
      if (minEvaluateLearners > minAvailableLearners) {
        throw new IllegalStateException(String.format(
            "minEvaluateLearners (%d) exceeds minAvailableLearners (%d): a round could start "
                + "without enough learners to evaluate; raise minAvailableLearners to at least %d",
            minEvaluateLearners, minAvailableLearners, minEvaluateLearners));
      }
      return new FedAvg(this);
    }

    private static double checkFraction(String knob, double fraction) {
      if (!(fraction > 0.0 && fraction <= 1.0)) {
        throw new IllegalArgumentException(
            knob + " must be in (0, 1] but was " + fraction);
      }
      return fraction;
    }

    private static int checkCount(String knob, int count) {
      if (count < 1) {
        throw new IllegalArgumentException(knob + " must be at least 1 but was " + count);
      }
      return count;
    }
  }
}
