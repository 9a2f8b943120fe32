package dev.flops.api.strategy;

import dev.flops.api.Config;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FitResult;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
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
 * How many rounds run, how long they may take and how many results a round needs are the
 * aggregator's training plan, not the strategy's: FedAvg only decides whom to ask, with which
 * config, and how to combine what comes back.
 *
 * <pre>{@code
 * FedAvg fedAvg = FedAvg.builder()
 *     .fractionFit(0.5)
 *     .minFitLearners(2)
 *     .fitConfig(round -> Config.of("local_epochs", 1, "batch_size", 64))
 *     .build();
 * }</pre>
 *
 * <p>A variant overrides one hook and inherits the rest: {@link #fitConfig(int)} to add a
 * setting to every fit task (FedProx's {@code proximal_mu}), {@link #serverUpdate} to turn the
 * weighted mean into the new global parameters differently (a server learning rate or momentum,
 * as in FedAvgM), {@link #saveState()}/{@link #restoreState(StrategyState)} for what that hook
 * remembers.
 * A variant is constructed from a builder: {@code super(FedAvg.builder().fractionFit(0.5))}.
 */
public class FedAvg implements Strategy {

  private static final String STATE_SEED = "sampling_seed";
  private static final String STATE_DRAWS = "sampling_draws";

  private final double fractionFit;
  private final double fractionEvaluate;
  private final int minFitLearners;
  private final int minEvaluateLearners;
  private final boolean acceptFailures;
  private final IntFunction<Config> fitConfig;
  private final IntFunction<Config> evaluateConfig;
  private final Parameters initialParameters;
  private final CentralEvaluation centralEvaluation;
  private final MetricsAggregation fitMetricsAggregation;
  private final MetricsAggregation evaluateMetricsAggregation;
  /** Sampling is a pure function of this seed and {@link #draws}, so a checkpoint can hold it. */
  private long samplingSeed;
  private long draws;

  /**
   * Creates FedAvg, or a variant of it, from a builder's settings.
   *
   * @param builder the settings; the builder may be reused afterwards
   */
  protected FedAvg(Builder builder) {
    this.fractionFit = builder.fractionFit;
    this.fractionEvaluate = builder.fractionEvaluate;
    this.minFitLearners = builder.minFitLearners;
    this.minEvaluateLearners = builder.minEvaluateLearners;
    this.acceptFailures = builder.acceptFailures;
    this.fitConfig = builder.fitConfig;
    this.evaluateConfig = builder.evaluateConfig;
    this.initialParameters = builder.initialParameters;
    this.centralEvaluation = builder.centralEvaluation;
    this.fitMetricsAggregation = builder.fitMetricsAggregation;
    this.evaluateMetricsAggregation = builder.evaluateMetricsAggregation;
    this.samplingSeed =
        builder.samplingSeed == null ? new SplittableRandom().nextLong() : builder.samplingSeed;
  }

  /**
   * Returns a builder with the defaults: both fractions 1.0, both minimums 1, failures accepted,
   * empty configs, a random sampling seed.
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

  /**
   * Returns {@code false} for FedAvg and flops' strategies built on it, which keep no global
   * parameters past their round (a server optimizer keeps copies), unless the
   * {@linkplain Builder#centralEvaluation central evaluation} may keep them
   * ({@link CentralEvaluation#keepsParameters()}, true for a lambda); {@code true} for a subclass
   * from another package, which may keep them unless it overrides this.
   */
  @Override
  public boolean keepsGlobalParameters() {
    return !getClass().getPackageName().equals(FedAvg.class.getPackageName())
        || (centralEvaluation != null && centralEvaluation.keepsParameters());
  }

  /**
   * Returns the sampling state: {@code sampling_seed} and {@code sampling_draws}, the number of
   * samples drawn so far.
   */
  @Override
  public StrategyState saveState() {
    return StrategyState.of(
        Map.of(STATE_SEED, Long.toString(samplingSeed), STATE_DRAWS, Long.toString(draws)));
  }

  /**
   * Restores the sampling state saved by {@link #saveState()}, so that a resumed federation samples
   * the same learners as an uninterrupted one would.
   *
   * @throws IllegalArgumentException if an entry is missing or not a number
   */
  @Override
  public void restoreState(StrategyState state) {
    long seed = stateEntry(state.values(), STATE_SEED);
    long drawn = stateEntry(state.values(), STATE_DRAWS);
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

  /**
   * Samples {@code max(fractionFit × available, minFitLearners)} learners (all of them if fewer
   * are connected) and gives each the config of {@link #fitConfig(int)}.
   */
  @Override
  public List<Instruction> configureFit(int round, Parameters global, List<String> available) {
    return instructions(sample(available, fractionFit, minFitLearners), fitConfig(round), round);
  }

  /**
   * Returns the config every fit task of a round carries: the builder's {@code fitConfig}
   * function's. A variant that adds a setting (FedProx's {@code proximal_mu}) overrides this.
   *
   * @param round the round, from 1
   * @return the config
   * @throws NullPointerException if the config function returns null
   */
  protected Config fitConfig(int round) {
    return Objects.requireNonNull(fitConfig.apply(round),
        () -> "the fitConfig function returned null for round " + round);
  }

  /**
   * Returns the config every evaluate task of a round carries: the builder's
   * {@code evaluateConfig} function's.
   *
   * @param round the round, from 1
   * @return the config
   * @throws NullPointerException if the config function returns null
   */
  protected Config evaluateConfig(int round) {
    return Objects.requireNonNull(evaluateConfig.apply(round),
        () -> "the evaluateConfig function returned null for round " + round);
  }

  /**
   * Begins the round's aggregation: each accepted update goes to the {@link #combiner} (FedAvg: one
   * running example-weighted sum on the kernel, memory O(model) however many learners), whose
   * combination {@link #serverUpdate} turns into the new global parameters when the round's fit
   * phase ends; the fit metrics are combined by the builder's {@code fitMetricsAggregation}.
   */
  @Override
  public FitAggregation beginFitAggregation(int round, Parameters global, AveragingKernel kernel) {
    return new Aggregation(round, global, kernel, combiner(round, global, kernel));
  }

  /**
   * Returns what combines this round's accepted updates into one set of parameters: FedAvg's
   * example-weighted mean on the kernel. A robust variant (a median, Krum) overrides this one hook.
   *
   * @param round the round, from 1
   * @param global the global parameters the learners started from
   * @param kernel the aggregator's kernel
   * @return a new combiner for this round's attempt; FedAvg closes it
   */
  protected UpdateCombiner combiner(int round, Parameters global, AveragingKernel kernel) {
    return new MeanCombiner(kernel.begin(global));
  }

  /**
   * Turns the round's combination (FedAvg: the weighted mean) into the new global parameters:
   * FedAvg takes it as it is.
   * A variant that applies the mean as a pseudo-gradient {@code Δ = average - global} with a server
   * learning rate or momentum (FedAvgM, Hsu et al. 2019) overrides this one hook.
   *
   * @param round the round, from 1
   * @param global the global parameters the learners started from
   * @param average what the {@link #combiner} made of the round's accepted updates (FedAvg: their
   *     example-weighted mean), float32 with the global structure; owned by this hook from now on
   * @param kernel the aggregator's kernel, for maths on large parameters
   * @return the new global parameters, with the global structure
   */
  protected Parameters serverUpdate(
      int round, Parameters global, Parameters average, AveragingKernel kernel) {
    return average;
  }

  @Override
  public List<Instruction> configureEvaluate(int round, Parameters global, List<String> available) {
    return instructions(
        sample(available, fractionEvaluate, minEvaluateLearners), evaluateConfig(round), round);
  }

  @Override
  public Optional<Evaluation> aggregateEvaluate(
      int round, List<LearnerResult<EvaluateResult>> results, List<LearnerFailure> failures) {
    if (results.isEmpty() || (!acceptFailures && !failures.isEmpty())) {
      return Optional.empty();
    }
    Evaluation weighted = weightedEvaluation(results);
    if (evaluateMetricsAggregation == null) {
      return Optional.of(weighted);
    }
    List<ReportedMetrics> reports = new ArrayList<>(results.size());
    for (LearnerResult<EvaluateResult> result : results) {
      reports.add(new ReportedMetrics(
          result.learnerId(), result.result().numExamples(), result.result().metrics()));
    }
    return Optional.of(new Evaluation(weighted.loss(), weighted.numExamples(), weighted.learners(),
        aggregated(evaluateMetricsAggregation, reports, "evaluateMetricsAggregation", round)));
  }

  private static Map<String, Double> aggregated(
      MetricsAggregation function, List<ReportedMetrics> reports, String knob, int round) {
    return Objects.requireNonNull(function.aggregate(List.copyOf(reports)),
        () -> "the " + knob + " function returned null for round " + round);
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
    knobs.put("fraction_fit", fractionFit);
    knobs.put("fraction_evaluate", fractionEvaluate);
    knobs.put("min_fit_learners", minFitLearners);
    knobs.put("min_evaluate_learners", minEvaluateLearners);
    knobs.put("accept_failures", acceptFailures);
    return knobs;
  }

  /** Names the strategy (a variant by its own class) and its knobs. */
  @Override
  public String toString() {
    return getClass().getSimpleName() + knobs();
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
    List<Instruction> instructions = new ArrayList<>(learners.size());
    for (String learner : learners) {
      instructions.add(new Instruction(learner, config));
    }
    return instructions;
  }

  /**
   * One round's attempt: updates go to the combiner as they arrive; their reported metrics (plain
   * values) are kept for the fit metrics aggregation.
   */
  private final class Aggregation implements FitAggregation {
    private final int round;
    private final Parameters global;
    private final AveragingKernel kernel;
    private final UpdateCombiner combiner;
    private final List<ReportedMetrics> reports = new ArrayList<>();
    private long examples;

    Aggregation(int round, Parameters global, AveragingKernel kernel, UpdateCombiner combiner) {
      this.round = round;
      this.global = global;
      this.kernel = kernel;
      this.combiner = Objects.requireNonNull(combiner,
          () -> FedAvg.this.getClass().getName() + ".combiner returned null");
    }

    @Override
    public void accept(BorrowedUpdate update) {
      long total = Math.addExact(examples, update.numExamples());
      combiner.add(update);
      examples = total;
      reports.add(new ReportedMetrics(update.learnerId(), update.numExamples(), update.metrics()));
    }

    @Override
    public void discard() {
      combiner.close();
    }

    @Override
    public AggregationResult finish(List<LearnerFailure> failures) {
      try (combiner) {
        int updates = combiner.count();
        if (updates == 0 || (!acceptFailures && !failures.isEmpty())) {
          return AggregationResult.keep(updates, examples);
        }
        Map<String, Double> metrics = aggregated(
            fitMetricsAggregation, reports, "fitMetricsAggregation", round);
        return AggregationResult.of(
            serverUpdate(round, global, combiner.combine(), kernel), updates, examples, metrics);
      }
    }
  }

  /** FedAvg's combiner: one running example-weighted sum on the kernel. */
  private static final class MeanCombiner implements UpdateCombiner {
    private final AveragingKernel.WeightedSum sum;

    MeanCombiner(AveragingKernel.WeightedSum sum) {
      this.sum = sum;
    }

    @Override
    public void add(BorrowedUpdate update) {
      update.addTo(sum, update.numExamples());
    }

    @Override
    public int count() {
      return sum.count();
    }

    @Override
    public Parameters combine() {
      return sum.mean();
    }

    @Override
    public void close() {
      sum.close();
    }
  }

  /**
   * Builds a {@link FedAvg}. Every setter checks its value at once; {@link #build()} checks that the
   * values agree with each other.
   */
  public static final class Builder {
    private double fractionFit = 1.0;
    private double fractionEvaluate = 1.0;
    private int minFitLearners = 1;
    private int minEvaluateLearners = 1;
    private boolean acceptFailures = true;
    private IntFunction<Config> fitConfig = round -> Config.empty();
    private IntFunction<Config> evaluateConfig = round -> Config.empty();
    private Parameters initialParameters;
    private Long samplingSeed;
    private CentralEvaluation centralEvaluation;
    private MetricsAggregation fitMetricsAggregation = MetricsAggregation.weightedMean();
    private MetricsAggregation evaluateMetricsAggregation;

    private Builder() {}

    /**
     * Sets how the learners' fit metrics combine into the round's (Flower's
     * {@code fit_metrics_aggregation_fn}; default {@link MetricsAggregation#weightedMean()}).
     *
     * @param aggregation the function, called on the training thread once a round
     * @return this builder
     * @throws NullPointerException if {@code aggregation} is null
     */
    public Builder fitMetricsAggregation(MetricsAggregation aggregation) {
      this.fitMetricsAggregation = Objects.requireNonNull(aggregation, "fitMetricsAggregation");
      return this;
    }

    /**
     * Sets how the learners' evaluation metrics combine into the round's federated metrics
     * (Flower's {@code evaluate_metrics_aggregation_fn}; default: each metric's example-weighted
     * mean, as {@link MetricsAggregation#weightedMean()}). The federated loss stays the
     * example-weighted mean loss.
     *
     * @param aggregation the function, called on the training thread once a round
     * @return this builder
     * @throws NullPointerException if {@code aggregation} is null
     */
    public Builder evaluateMetricsAggregation(MetricsAggregation aggregation) {
      this.evaluateMetricsAggregation =
          Objects.requireNonNull(aggregation, "evaluateMetricsAggregation");
      return this;
    }

    /**
     * Evaluates the global parameters on the aggregator after every round (default: none), e.g.
     * on a central test set; the result is the round's central evaluation: logged, in the round
     * summary and tracked.
     *
     * @param evaluation the function, called on the training thread once a round; unless it
     *     says it keeps no parameters ({@link CentralEvaluation#keepsParameters()}), superseded
     *     global models are left to the garbage collector (README, "Memory and large models")
     * @return this builder
     * @throws NullPointerException if {@code evaluation} is null
     */
    public Builder centralEvaluation(CentralEvaluation evaluation) {
      this.centralEvaluation = Objects.requireNonNull(evaluation, "centralEvaluation");
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
     * Sets the least number of learners sampled to fit (default 1), when that many are connected.
     * How many accepted updates a round needs is the training plan's {@code minFitResults}.
     *
     * @param count at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minFitLearners(int count) {
      this.minFitLearners = checkCount("minFitLearners", count);
      return this;
    }

    /**
     * Sets the least number of learners sampled to evaluate (default 1), when that many are
     * connected. How many results a round needs is the training plan's {@code minEvaluateResults}.
     *
     * @param count at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public Builder minEvaluateLearners(int count) {
      this.minEvaluateLearners = checkCount("minEvaluateLearners", count);
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
     */
    public FedAvg build() {
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
