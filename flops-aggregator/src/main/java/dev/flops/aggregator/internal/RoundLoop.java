package dev.flops.aggregator.internal;

import dev.flops.aggregator.CheckpointExtras;
import dev.flops.aggregator.InsufficientResults;
import dev.flops.aggregator.TrainingPlan;
import dev.flops.aggregator.internal.LearnerPool.Assignment;
import dev.flops.aggregator.internal.LearnerPool.PhaseKind;
import dev.flops.aggregator.internal.LearnerPool.Traffic;
import dev.flops.aggregator.internal.tracking.SystemMetrics;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.ResultMemory;
import dev.flops.aggregator.kernel.ResultOwner;
import dev.flops.api.Config;
import dev.flops.api.DType;
import dev.flops.api.EvaluateResult;
import dev.flops.api.Evaluation;
import dev.flops.api.FederatedModel;
import dev.flops.api.FederationObserver;
import dev.flops.api.LearnerFailure;
import dev.flops.api.LearnerResult;
import dev.flops.api.Parameters;
import dev.flops.api.RoundRanking;
import dev.flops.api.RoundResources;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrackingInfo;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import dev.flops.api.strategy.AggregationResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.BorrowedUpdate;
import dev.flops.api.strategy.FitAggregation;
import dev.flops.api.strategy.Instruction;
import dev.flops.api.strategy.Strategy;
import dev.flops.api.strategy.StrategyState;
import dev.flops.proto.codec.Durations;
import dev.flops.proto.codec.FiniteScan;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One training's loop (DESIGN.md, "The lifecycle"): for each round wait for learners, fit on a
 * sample, aggregate, update the model copy, evaluate on a sample, evaluate centrally, summarise,
 * checkpoint, notify. It reaches the learners only through a {@link LearnerPool} and reads time
 * only from a {@link LoopClock}, so tests drive it with a fake pool and a virtual clock.
 *
 * <p>The round policy (the {@link TrainingPlan}'s): a phase (fit, then evaluate) that ends with
 * fewer accepted results than the plan's minimum is discarded and, under
 * {@link InsufficientResults#RETRY}, run again with a fresh sample, up to the plan's attempts;
 * otherwise training fails. A round is complete, and checkpointed, only when both phases met their
 * minimum.
 *
 * <p>One loop runs one training, on the thread that calls {@link #run()}.
 */
public final class RoundLoop {
  private static final Logger log = LoggerFactory.getLogger(RoundLoop.class);

  private final LearnerPool pool;
  private final TrainingPlan plan;
  private final Strategy strategy;
  private final FederatedModel model;
  private final AveragingKernel kernel;
  private final List<FederationObserver> observers;
  private final LoopClock clock;
  /** Names this run's global parameters for learners: "run/version", unique across runs. */
  private final String runId = java.util.UUID.randomUUID().toString();
  private long parametersVersion;
  private Tracker tracker = Tracker.open(dev.flops.aggregator.tracking.Tracking.off(), "");
  private SystemMetrics systemMetrics = new SystemMetrics(false);
  private String modelName = "model";
  private CheckpointStore checkpoints;
  private List<CheckpointExtras> extras = List.of();
  private Checkpoint resumeFrom;
  private PhaseProgress progress;
  /** Time the current round has spent waiting for connected learners, reported apart. */
  private long learnerWaitNanos;
  private final RoundRanking ranking;
  private final RoundAnnouncement announcement = new RoundAnnouncement();

  /**
   * Creates the loop of one training.
   *
   * @param pool the learners, through the transport
   * @param plan the loop policy
   * @param strategy the decisions
   * @param model the aggregator's model copy, which receives every new global model
   * @param kernel the averaging kernel the strategy gets
   * @param clock the loop's time
   */
  public RoundLoop(LearnerPool pool, TrainingPlan plan, Strategy strategy, FederatedModel model,
      AveragingKernel kernel, LoopClock clock) {
    this.pool = pool;
    this.plan = plan;
    this.strategy = strategy;
    this.model = model;
    this.kernel = kernel;
    this.observers = plan.observers();
    this.ranking = plan.bestRound();
    this.clock = clock;
    this.progress = new PhaseProgress(DEFAULT_PROGRESS_INTERVAL, clock);
  }

  /** How often a running phase logs its progress unless {@link #progressEvery} says otherwise. */
  public static final Duration DEFAULT_PROGRESS_INTERVAL = Duration.ofSeconds(10);

  /**
   * Logs a running phase's progress (results in, transfers under way, learners still working)
   * every {@code interval}.
   *
   * @return this loop
   */
  public RoundLoop progressEvery(Duration interval) {
    this.progress = new PhaseProgress(interval, clock);
    return this;
  }

  /**
   * Tracks the training (MLflow) with {@code tracker}, sampling the aggregator's resources with
   * {@code metrics}; by default nothing is tracked.
   *
   * @param modelName names the model in the tracked params
   * @return this loop
   */
  public RoundLoop tracking(Tracker tracker, SystemMetrics metrics, String modelName) {
    this.tracker = tracker;
    this.systemMetrics = metrics;
    this.modelName = modelName;
    return this;
  }

  /**
   * Writes a checkpoint to {@code store} after every completed round, with the entries of
   * {@code extras}.
   */
  public RoundLoop checkpointTo(CheckpointStore store, List<CheckpointExtras> extras) {
    this.checkpoints = store;
    this.extras = List.copyOf(extras);
    return this;
  }

  /**
   * Continues from a checkpoint with the round after it. The caller has checked the checkpoint
   * against the model, set its parameters into the model copy and its state into the strategy.
   */
  public RoundLoop resumeFrom(Checkpoint checkpoint) {
    this.resumeFrom = checkpoint;
    return this;
  }

  /** Runs every round; on failure the observers hear of it and the cause is rethrown. */
  public TrainingResult run() throws Exception {
    Instant started = Instant.now();
    long startNanos = clock.nanoTime();
    TrainingStarted startedEvent =
        new TrainingStarted(strategy.toString(), plan.rounds(), started);
    notify(o -> o.onTrainingStarted(startedEvent));
    log.info("training '{}' started: {} rounds with {}", plan.name(), plan.rounds(), strategy);
    track(() -> tracker.trainingStarted(startedEvent, strategy, plan, modelName));
    RoundSummary best = null;
    Parameters bestParameters = null;
    // Asked once a training: whether anyone may keep global parameters past their round.
    boolean keepsGlobal = strategy.keepsGlobalParameters() || model.keepsParameters();
    log.debug("superseded global parameters are freed {}", keepsGlobal
        ? "by the garbage collector (the strategy or the model may keep them)" : "at once");
    try {
      Parameters global;
      List<RoundSummary> rounds = new ArrayList<>();
      if (resumeFrom == null) {
        global = initialParameters();
      } else {
        global = resumeFrom.parameters();
        pool.prepare(global, ranking);
        rounds.addAll(resumeFrom.rounds());
        // Ranked again rather than read: a resumed run ranks by its own knob, as an
        // uninterrupted one with that knob would have.
        best = ranking.best(rounds).orElse(null);
        int saved = resumeFrom.best().map(RoundSummary::round).orElse(0);
        if (best != null && best.round() != saved) {
          log.info("by {} the best round so far is round {}, not the checkpoint's round {}",
              ranking.describe(), best.round(), saved);
        }
        // Only the last completed round's parameters are in the checkpoint.
        bestParameters = best != null && best.round() == resumeFrom.round() ? global : null;
        log.info("resuming after round {} of {} from {}", resumeFrom.round(), plan.rounds(),
            checkpoints.file());
      }
      for (int round = rounds.size() + 1; round <= plan.rounds(); round++) {
        final int number = round;
        Instant roundStart = Instant.now();
        track(() -> tracker.roundStarted(number, roundStart));
        RoundState state = runRound(round, global);
        Parameters superseded = global;
        Parameters previousBest = bestParameters;
        global = state.global;
        RoundSummary summary = state.summary;
        rounds.add(summary);
        if (ranking.isBetter(summary, best)) {
          best = summary;
          // Kept only to log the best model at the end: without tracking, holding a second
          // model (a 2.5 GB one, say) for nothing would cost that much memory.
          bestParameters = tracker.enabled() ? state.global : null;
        }
        checkpoint(round, global, rounds, best);
        freeSuperseded(round, keepsGlobal, global, bestParameters, superseded, previousBest);
        log.info(describe(summary, plan.rounds()));
        Instant roundEnd = Instant.now();
        track(() -> tracker.roundFinished(summary, roundEnd, state.fitConfigs, state.evaluateConfigs));
        notify(o -> o.onRoundFinished(summary));
      }
      forgetResults(); // the final and the best parameters now belong to the application
      TrainingResult untracked = new TrainingResult(
          rounds, best, global, Duration.ofNanos(clock.nanoTime() - startNanos));
      log.info(describe(untracked, ranking));
      Parameters bestModel = bestParameters;
      TrackingInfo info = trackEnd(() -> tracker.trainingSucceeded(untracked, bestModel, model));
      TrainingResult result = info == null ? untracked : untracked.withTracking(info);
      notify(o -> o.onTrainingSucceeded(result));
      return result;
    } catch (Exception | Error e) {
      forgetResults();
      log.error("training failed: {}", e.getMessage());
      RoundSummary bestSoFar = best;
      Parameters bestSoFarParameters = bestParameters;
      trackEnd(() -> tracker.trainingFailed(e, bestSoFar, bestSoFarParameters, model));
      notify(o -> o.onTrainingFailed(e));
      throw e;
    }
  }

  /**
   * Frees the memory of global parameters a round replaced ({@code superseded}, and a best
   * round's that is no longer the best) unless someone may still read them: they are the current
   * or the best parameters, the strategy or the model may keep them ({@code keepsGlobal}), or
   * the kernel did not make them (the initial model's, a checkpoint's, a kernel of the
   * application's). Downloads of them end first. Without this, a superseded model's off-heap
   * memory waits for an old-generation collection.
   */
  private void freeSuperseded(int round, boolean keepsGlobal, Parameters global, Parameters best,
      Parameters superseded, Parameters previousBest) {
    if (!(kernel instanceof ResultOwner owner)) {
      return;
    }
    ResultMemory results = owner.results();
    if (!keepsGlobal) {
      for (Parameters old : new Parameters[] {superseded, previousBest}) {
        if (old != null && old != global && old != best && results.tracks(old)) {
          pool.retireDownloads(old);
          results.free(old);
          log.debug("round {}: freed superseded global parameters ({} bytes)", round,
              old.byteSize());
        }
      }
    }
    results.keepOnly(global, best);
  }

  /** Stops tracking the kernel's results: what is left belongs to the garbage collector. */
  private void forgetResults() {
    if (kernel instanceof ResultOwner owner) {
      owner.results().keepOnly();
    }
  }

  /** Runs a tracking step; a tracking bug is logged and never stops training. */
  private static void track(Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      log.warn("tracking failed; training goes on", e);
    }
  }

  private interface TrackingEnd {
    TrackingInfo run() throws InterruptedException;
  }

  private static TrackingInfo trackEnd(TrackingEnd step) throws InterruptedException {
    try {
      return step.run();
    } catch (RuntimeException e) {
      log.warn("tracking failed; training goes on", e);
      return null;
    }
  }

  private Parameters initialParameters() {
    Parameters initial = strategy.initializeParameters(model.getParameters());
    for (Tensor tensor : initial) {
      if (tensor.dtype() != DType.FLOAT32) {
        throw new IllegalArgumentException("the model's tensor " + tensor.spec()
            + " is not FLOAT32; flops aggregates float32 parameters");
      }
    }
    pool.prepare(initial, ranking);
    log.info("initial parameters: {} tensors, {} values ({} MB)", initial.size(),
        initial.elementCount(), String.format(Locale.ROOT, "%.1f", initial.byteSize() / 1e6));
    return initial;
  }

  /** The global parameters after a round, its summary and the configs it sent. */
  private record RoundState(Parameters global, RoundSummary summary,
      List<Instruction> fitConfigs, List<Instruction> evaluateConfigs) {}

  private String parametersId() {
    return runId + "/" + parametersVersion;
  }

  /**
   * Finishes a round's aggregation. A strategy that cannot combine the updates it accepted (Krum
   * with too few of them, a user function that throws) costs that round its aggregate, never the
   * training or the global model: the round keeps the global parameters, as for an overflow.
   */
  private AggregationResult finish(
      int round, FitAggregation aggregation, List<LearnerFailure> failures, int accepted) {
    try {
      return aggregation.finish(failures);
    } catch (IllegalStateException | IllegalArgumentException e) {
      // A strategy's own refusal (Krum with too few updates): its message says it all.
      log.error("round {}: the strategy {} could not aggregate the {} accepted updates: {}; the "
          + "global parameters stay as they were", round, strategy, accepted, e.getMessage());
      return AggregationResult.keep(accepted, 0);
    } catch (RuntimeException e) {
      log.error("round {}: the strategy {} could not aggregate the {} accepted updates: {}; the "
          + "global parameters stay as they were", round, strategy, accepted, e.getMessage(), e);
      return AggregationResult.keep(accepted, 0);
    }
  }

  private RoundState runRound(int round, Parameters global) throws Exception {
    long start = clock.nanoTime();
    learnerWaitNanos = 0;
    Traffic before = pool.traffic();
    double cpuBefore = systemMetrics.processCpuSeconds();
    List<LearnerFailure> allFailures = new ArrayList<>();
    List<LearnerFailure> failures;
    List<Instruction> fitInstructions;
    AggregationResult aggregated;
    for (int attempt = 1; ; attempt++) {
      List<String> available = awaitLearners(plan.minAvailableLearners());
      fitInstructions = strategy.configureFit(round, global, available);
      FitAggregation aggregation = strategy.beginFitAggregation(round, global, kernel);
      List<TaskOutcome> fitOutcomes;
      try {
        fitOutcomes = runPhase(round, PhaseKind.FIT, global, fitInstructions,
            (learnerId, result) -> {
              BorrowedUpdate update = BorrowedUpdate.lend(learnerId, result);
              try {
                aggregation.accept(update);
              } finally {
                update.release();
              }
            });
      } catch (InterruptedException | RuntimeException | Error e) {
        // A training stopped mid-phase still frees what the attempt holds (a robust strategy's
        // staged files), not only at JVM exit.
        aggregation.discard();
        throw e;
      }
      failures = failures(fitOutcomes);
      allFailures.addAll(tagged(failures, attempt));
      int accepted = fitOutcomes.size() - failures.size();
      if (fitInstructions.isEmpty() || accepted >= plan.minFitResults()) {
        aggregated = finish(round, aggregation, failures, accepted);
        break;
      }
      aggregation.discard();
      insufficient(round, "fit", attempt, accepted, plan.minFitResults(), failures,
          othersAvailable(fitInstructions));
    }
    int fitFailed = allFailures.size();
    int fitSucceeded = fitInstructions.size() - failures.size();

    Parameters next = global;
    Optional<Parameters> newGlobal = aggregated.parameters();
    Optional<String> overflow = newGlobal.flatMap(FiniteScan::describeNonFinite);
    if (overflow.isPresent()) {
      // Finite updates weighted by their example counts can still overflow float32 sums, and a
      // strategy of the user's may err: a non-finite model must never become the global one.
      log.error("round {}: the aggregate of {} updates is discarded: {}; the global parameters "
          + "stay as they were (are some updates' values huge?)", round, fitSucceeded,
          overflow.get());
      newGlobal = Optional.empty();
    }
    if (newGlobal.isPresent()) {
      Optional<String> mismatch = newGlobal.get().describeMismatch(global);
      if (mismatch.isPresent()) {
        throw new IllegalStateException("round " + round + ": the strategy " + strategy
            + " returned new global parameters whose structure differs from the model's: "
            + mismatch.get());
      }
      next = newGlobal.get();
      model.setParameters(next);
      parametersVersion++;
    } else if (!fitInstructions.isEmpty()) { // a round without fit tasks keeps them by design
      log.warn("round {}: no update was aggregated ({} accepted, {} failed); the global "
          + "parameters stay as they were", round, fitSucceeded, failures.size());
    }

    List<Instruction> evaluateInstructions;
    List<LearnerResult<EvaluateResult>> results;
    Evaluation evaluation;
    for (int attempt = 1; ; attempt++) {
      int needed = plan.minEvaluateResults();
      List<String> available = needed > 0 ? awaitLearners(needed) : pool.connected();
      evaluateInstructions = strategy.configureEvaluate(round, next, available);
      List<TaskOutcome> evaluateOutcomes =
          runPhase(round, PhaseKind.EVALUATE, next, evaluateInstructions, null);
      List<LearnerFailure> evaluateFailures = failures(evaluateOutcomes);
      allFailures.addAll(tagged(evaluateFailures, attempt));
      results = new ArrayList<>();
      for (TaskOutcome outcome : evaluateOutcomes) {
        if (outcome.ok()) {
          results.add(new LearnerResult<>(outcome.learnerId(), outcome.evaluation()));
        }
      }
      if (evaluateInstructions.isEmpty() || results.size() >= needed) {
        evaluation = strategy.aggregateEvaluate(round, results, evaluateFailures).orElse(null);
        break;
      }
      insufficient(round, "evaluate", attempt, results.size(), needed, evaluateFailures,
          othersAvailable(evaluateInstructions));
    }
    EvaluateResult central = strategy.evaluate(round, next).orElse(null);
    if (central != null) {
      log.info("round {}: central evaluation loss {} accuracy {}", round, fmt(central.loss()),
          fmt(central.accuracy()));
    }

    double cpuAfter = systemMetrics.processCpuSeconds();
    Traffic after = pool.traffic();
    RoundResources resources = new RoundResources(
        after.bytesReceived() - before.bytesReceived(), after.bytesSent() - before.bytesSent(),
        cpuBefore < 0 || cpuAfter < 0 ? -1 : cpuAfter - cpuBefore,
        systemMetrics.heapUsedBytes(), systemMetrics.nonHeapUsedBytes(),
        systemMetrics.offHeapBytes());
    RoundSummary summary = new RoundSummary(round, fitSucceeded, fitFailed, results.size(),
        allFailures.size() - fitFailed, evaluation,
        Duration.ofNanos(clock.nanoTime() - start - learnerWaitNanos), allFailures, resources,
        Duration.ofNanos(learnerWaitNanos), aggregated.totalExamples(), aggregated.metrics(),
        central);
    return new RoundState(next, summary, fitInstructions, evaluateInstructions);
  }

  /** Runs one phase: sends its tasks, waits for them until the round timeout, forgets them. */
  private List<TaskOutcome> runPhase(int round, PhaseKind kind, Parameters global,
      List<Instruction> instructions, LearnerPool.UpdateSink sink) throws InterruptedException {
    List<Assignment> assignments = new ArrayList<>(instructions.size());
    for (Instruction instruction : instructions) {
      assignments.add(new Assignment(instruction.learnerId(),
          announcement.apply(plan, tracker, round, instruction.config())));
    }
    Phase phase = pool.dispatch(round, kind, global, parametersId(), assignments, sink);
    try {
      List<CompletableFuture<TaskOutcome>> outcomes = phase.outcomes();
      CompletableFuture<Void> all =
          CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new));
      if (!progress.await(all, phase, plan.roundTimeout())) {
        phase.expire("timed out after " + Durations.forPeople(plan.roundTimeout()));
      }
      List<TaskOutcome> ended = new ArrayList<>(outcomes.size());
      for (CompletableFuture<TaskOutcome> outcome : outcomes) {
        ended.add(outcome.join());
      }
      return ended;
    } finally {
      phase.close();
    }
  }

  /** Waits for {@code count} connected learners; the time counts as the round's learner wait. */
  private List<String> awaitLearners(int count) throws InterruptedException, TimeoutException {
    long start = clock.nanoTime();
    try {
      return pool.awaitLearners(count, plan.learnerWait(), progress.interval());
    } finally {
      learnerWaitNanos += clock.nanoTime() - start;
    }
  }

  /** Failures of a retried attempt say which attempt they belong to. */
  private static List<LearnerFailure> tagged(List<LearnerFailure> failures, int attempt) {
    if (attempt == 1) {
      return failures;
    }
    return failures.stream()
        .map(f -> f.withReason("attempt " + attempt + ": " + f.reason()))
        .toList();
  }

  /** Whether a learner connected now was not given a task in this attempt of the phase. */
  private boolean othersAvailable(List<Instruction> instructions) {
    java.util.Set<String> asked = new java.util.HashSet<>();
    instructions.forEach(instruction -> asked.add(instruction.learnerId()));
    return !asked.containsAll(pool.connected());
  }

  /**
   * Applies the round policy to a phase that gathered too few results: logs and returns if it may
   * be retried, else throws. A phase whose every failure was a rejection of what the learners
   * sent ({@link LearnerFailure.Kind#REJECTED}) is not retried while no other learner is
   * connected: the same learners would send the same rejected results again.
   */
  private void insufficient(int round, String phase, int attempt, int got, int needed,
      List<LearnerFailure> failures, boolean othersAvailable) {
    String what = String.format(Locale.ROOT,
        "round %d: the %s phase gathered %d of the %d results it needs (attempt %d)",
        round, phase, got, needed, attempt);
    String failed = ShortfallAdvice.failureLines(failures, pool::learnerName);
    InsufficientResults policy = plan.onInsufficientResults();
    int attempts = plan.maxRoundAttempts();
    boolean allRejected = !failures.isEmpty()
        && failures.stream().allMatch(f -> f.kind() == LearnerFailure.Kind.REJECTED);
    String why;
    if (policy == InsufficientResults.FAIL) {
      why = "onInsufficientResults is FAIL";
    } else if (attempt >= attempts) {
      why = "onInsufficientResults is RETRY and all " + attempts + " attempts fell short";
    } else if (allRejected && !othersAvailable) {
      why = "every failure was a rejected result and no other learner is connected, so a retry "
          + "would only repeat the rejections";
    } else {
      log.warn("{}; its results are discarded and the phase is retried (attempt {} of {}){}",
          what, attempt + 1, attempts, failed);
      return;
    }
    throw new IllegalStateException(what + "; training stops because " + why + "." + failed
        + "\n" + ShortfallAdvice.advise(phase, failures, plan) + "." + resumeAdvice(round));
  }

  /**
   * What a resume would do, only when checkpoints are written: every completed round is
   * checkpointed, so the last one is the round before the failed one.
   */
  private String resumeAdvice(int failedRound) {
    if (checkpoints == null) {
      return "";
    }
    int last = failedRound - 1;
    return last == 0
        ? " No round was checkpointed yet, so a resume starts again from round 1."
        : " A resume (--resume, or Aggregator.Builder.resume(true)) continues after round " + last
            + " from " + checkpoints.file() + ".";
  }

  private void checkpoint(int round, Parameters global, List<RoundSummary> rounds,
      RoundSummary best) throws IOException {
    if (checkpoints == null) {
      return;
    }
    Map<String, String> entries = new LinkedHashMap<>();
    for (CheckpointExtras extra : extras) {
      try {
        extra.save(round).forEach((key, value) -> {
          if (entries.put(key, value) != null) {
            log.warn("checkpoint extra '{}' is set by more than one CheckpointExtras; the last "
                + "one registered wins", key);
          }
        });
      } catch (RuntimeException e) {
        log.warn("CheckpointExtras {} threw; its entries are left out of the checkpoint of round "
            + "{}", extra.getClass().getName(), round, e);
      }
    }
    long start = clock.nanoTime();
    try {
      checkpoints.write(new Checkpoint(round, global, strategy.saveState(), rounds,
          best == null ? 0 : best.round(), entries, pool.identities()));
    } catch (IOException e) {
      throw new IOException("round " + round + " completed but its checkpoint could not be "
          + "written to " + checkpoints.file() + ": " + e.getMessage()
          + "; free space or fix the directory's permissions, then resume", e);
    }
    log.info("round {}: checkpoint written in {} ms", round,
        (clock.nanoTime() - start) / 1_000_000);
  }

  private static List<LearnerFailure> failures(List<TaskOutcome> outcomes) {
    List<LearnerFailure> failures = new ArrayList<>();
    for (TaskOutcome outcome : outcomes) {
      if (!outcome.ok()) {
        failures.add(new LearnerFailure(outcome.learnerId(), outcome.failure(), outcome.kind()));
      }
    }
    return failures;
  }

  private void notify(Consumer<FederationObserver> event) {
    for (FederationObserver observer : observers) {
      try {
        event.accept(observer);
      } catch (RuntimeException e) {
        log.warn("observer {} threw; training goes on", observer.getClass().getName(), e);
      }
    }
  }

  static String describe(RoundSummary s, int rounds) {
    String examples = s.fitExamples() > 0 ? " (" + s.fitExamples() + " examples)" : "";
    // The aggregator's own evaluation, when the strategy has one, beside the federated one.
    String central = s.central().map(c -> Double.isNaN(c.accuracy())
        ? " | central loss " + fmt(c.loss()) : " | central accuracy " + fmt(c.accuracy()))
        .orElse("");
    String line = String.format(Locale.ROOT,
        "round %d/%d | fit %d ok, %d failed%s | evaluate %d ok, %d failed | loss %s | accuracy %s%s"
            + " | %.2f s",
        s.round(), rounds, s.fitSucceeded(), s.fitFailed(), examples, s.evaluateSucceeded(),
        s.evaluateFailed(), fmt(s.loss()), fmt(s.accuracy()), central,
        s.duration().toMillis() / 1000.0);
    // The wait for learners is not the round's work: a round that waited says so apart.
    return s.learnerWait().toMillis() < 1 ? line : line + String.format(Locale.ROOT,
        " (+ %.2f s waiting for learners)", s.learnerWait().toMillis() / 1000.0);
  }

  static String describe(TrainingResult result, RoundRanking ranking) {
    RoundSummary last = result.finalRound();
    String best = result.best()
        .map(b -> String.format(Locale.ROOT, "best round %d by %s (%s)", b.round(),
            ranking.describeChoiceOf(b), bestFigures(b, ranking)))
        .orElse("no round was evaluated");
    return String.format(Locale.ROOT,
        "training finished in %.1f s: %d rounds, final accuracy %s, final loss %s; %s",
        result.duration().toMillis() / 1000.0, result.rounds().size(), fmt(last.accuracy()),
        fmt(last.loss()), best);
  }

  /** The ranking metric's value, if any, then accuracy where reported, then the loss. */
  private static String bestFigures(RoundSummary best, RoundRanking ranking) {
    Map<String, Double> figures = new LinkedHashMap<>();
    ranking.valueOf(best).ifPresent(value -> figures.put(ranking.metric(), value));
    if (!Double.isNaN(best.accuracy())) {
      figures.putIfAbsent(dev.flops.api.Metrics.ACCURACY, best.accuracy());
    }
    figures.putIfAbsent(RoundRanking.LOSS, best.loss());
    StringBuilder text = new StringBuilder();
    figures.forEach((name, value) ->
        text.append(text.length() == 0 ? "" : ", ").append(name).append(' ').append(fmt(value)));
    return text.toString();
  }

  private static String fmt(double value) {
    return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%.4f", value);
  }
}
