package dev.flops.aggregator;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.aggregator.tracking.TrackingSummary;
import dev.flops.api.FederatedModel;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.app.FederatedApps;
import dev.flops.api.app.LoadedApp;
import dev.flops.api.strategy.Strategy;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ParseResult;

/**
 * {@code AggregatorMain --app JAR}: runs the {@link dev.flops.api.app.FederatedApp} a jar
 * declares, with the app's model copy and strategy and a plan made of, lowest first, flops's
 * defaults, the app's {@link AppPlan}, and the plan options given on the command line.
 *
 * <p>Only options the user typed override the app: picocli's parse result tells them from
 * defaults. The FedAvg options of {@code --model-factory} ({@code --fraction-fit},
 * {@code --fraction-evaluate}, {@code --accept-failures}, {@code --fit-config}) are refused,
 * because the strategy is the app's; {@code --min-fit} and {@code --min-evaluate} set the plan's
 * minimum results only.
 */
final class AppAggregator {
  private static final Logger log = LoggerFactory.getLogger(AppAggregator.class);

  /** FedAvg options of the --model-factory path that have no meaning for an app's strategy. */
  private static final List<String> STRATEGY_OPTIONS =
      List.of("--fraction-fit", "--fraction-evaluate", "--accept-failures", "--fit-config");

  private static final List<String> TRACKING_OPTIONS = List.of("--tracking-uri", "--experiment",
      "--no-tracking", "--tracking-outbox", "--tracking-flush-timeout", "--event-log");

  private AppAggregator() {}

  /** Runs the app's training; the exit code as {@link AggregatorMain#call()} returns it. */
  static int run(AggregatorMain main, ParseResult parsed) throws IOException, InterruptedException {
    checkOptions(main, parsed);
    main.bestRound.ranking(); // checked before the app is loaded, which may take long
    LoadedApp app = FederatedApps.load(main.app);
    Thread.currentThread().setContextClassLoader(app.classLoader());
    SignalStop signals = new SignalStop();
    main.notify.nameUnnamedFederation(app.name());
    TrainingPlan plan = signals.observe(main.notify.applyTo(plan(app, main, parsed))).build();
    Strategy strategy = app.strategy();
    FederatedModel model = app.newModel();
    log.info("{}: {} rounds, {} learners needed, strategy {}", app, plan.rounds(),
        plan.minAvailableLearners(), strategy.getClass().getSimpleName());
    Aggregator.Builder builder = main.reproducible.applyTo(main.security.applyTo(
        Aggregator.builder().host(main.host).port(main.port).model(model)));
    TrainingResult result;
    try (NotifyOptions flushedLast = main.notify;
        Aggregator aggregator = builder.build().start();
        SignalStop armed = signals.arm(aggregator)) {
      result = aggregator.train(plan, strategy);
    }
    printTable(main.spec.commandLine().getOut(), app.name(), result);
    return result.rounds().size() == plan.rounds() ? 0 : 1;
  }

  /**
   * The results on standard output (logs go to standard error): one line a round, then the best
   * round, e.g. {@code round 1  learners 3/3  loss 0.4712  accuracy 0.8316  central 0.8290},
   * and where the training was tracked.
   */
  static void printTable(PrintWriter out, String app, TrainingResult result) {
    out.printf(Locale.ROOT, "%s: %d round(s)%n", app, result.rounds().size());
    for (RoundSummary round : result.rounds()) {
      out.printf(Locale.ROOT, "round %d  learners %d/%d  loss %.4f  accuracy %.4f%s%n",
          round.round(), round.fitSucceeded(), round.fitSucceeded() + round.fitFailed(),
          round.loss(), round.accuracy(), round.central()
              .map(c -> String.format(Locale.ROOT, "  central loss %.4f accuracy %s", c.loss(),
                  c.metrics().containsKey("accuracy")
                      ? String.format(Locale.ROOT, "%.4f", c.metrics().get("accuracy")) : "-"))
              .orElse(""));
    }
    result.best().ifPresent(best -> out.printf(Locale.ROOT, "best round %d%n", best.round()));
    result.trackingInfo().ifPresent(info ->
        TrackingSummary.lines(info, "AggregatorMain flush-tracking").forEach(out::println));
    out.flush();
  }

  private static void checkOptions(AggregatorMain main, ParseResult parsed) {
    if (main.modelFactory != null) {
      throw new IllegalArgumentException("--app and --model-factory both given: the app's jar "
          + "makes the model; drop --model-factory");
    }
    for (String option : STRATEGY_OPTIONS) {
      if (parsed.hasMatchedOption(option)) {
        throw new IllegalArgumentException(option + " configures the FedAvg that --model-factory "
            + "runs; with --app the strategy is the app's own (its strategy() method): set it "
            + "there, or drop " + option);
      }
    }
  }

  /**
   * The plan: flops's defaults with the app's name as experiment and run name, then the app's
   * {@link AppPlan}, then every plan option the command line holds. Notify options are left to
   * the caller.
   *
   * @throws dev.flops.api.app.FederatedAppException if the app's plan method throws or returns null
   */
  static TrainingPlan.Builder plan(LoadedApp app, AggregatorMain main, ParseResult parsed) {
    String name = app.name();
    TrainingPlan.Builder defaults = TrainingPlan.builder()
        .tracking(Tracking.defaults().experimentName(name))
        .name(name);
    TrainingPlan.Builder plan = defaults;
    if (app.app() instanceof AppPlan appPlan) {
      plan = app.call("plan(...)", a -> appPlan.plan(defaults));
      if (plan == null) {
        throw new dev.flops.api.app.FederatedAppException(app.app().getClass().getName()
            + ".plan(...) returned null; return the builder it was given", null);
      }
    }
    if (parsed.hasMatchedOption("--rounds")) {
      plan.rounds(main.rounds);
    }
    if (parsed.hasMatchedOption("--min-available")) {
      plan.minAvailableLearners(main.minAvailable);
    }
    if (parsed.hasMatchedOption("--min-fit")) {
      plan.minFitResults(main.minFit);
    }
    if (parsed.hasMatchedOption("--min-evaluate")) {
      plan.minEvaluateResults(main.minEvaluate);
    }
    if (parsed.hasMatchedOption("--round-timeout")) {
      plan.roundTimeout(Duration.ofSeconds(main.roundTimeoutSeconds));
    }
    if (parsed.hasMatchedOption("--learner-wait")) {
      plan.learnerWait(Duration.ofSeconds(main.learnerWaitSeconds));
    }
    if (parsed.hasMatchedOption("--on-insufficient-results")) {
      plan.onInsufficientResults(main.onInsufficientResults);
    }
    if (main.maxRoundAttempts != null) {
      plan.maxRoundAttempts(main.maxRoundAttempts);
    }
    if (parsed.hasMatchedOption("--best-metric") || parsed.hasMatchedOption("--best-mode")) {
      main.bestRound.applyTo(plan);
    }
    if (main.checkpoints.directory != null) {
      plan.checkpointDirectory(main.checkpoints.directory);
    }
    if (main.checkpoints.resume) {
      plan.resume(true);
    }
    if (TRACKING_OPTIONS.stream().anyMatch(parsed::hasMatchedOption)) {
      if (main.tracking.experiment == null) {
        main.tracking.experiment = name;
      }
      main.tracking.applyTo(plan);
    }
    return plan;
  }
}
