package dev.flops.aggregator;

import dev.flops.api.Config;
import dev.flops.api.FederatedModel;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.proto.codec.FlopsVersion;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs an aggregator as its own process: either a federated app's jar ({@code --app}, see
 * {@link dev.flops.api.app.FederatedApp} and {@link AppPlan}: the app's model, strategy and plan,
 * the plan options given here overriding the app's), or FedAvg on a model copy that comes from a
 * class on the classpath that implements {@code Supplier<FederatedModel>} and has a public
 * no-argument constructor ({@code --model-factory}).
 *
 * <pre>
 * java -cp flops-and-dependencies... dev.flops.aggregator.AggregatorMain \
 *     --app my-app.jar --port 50051 --rounds 5 --min-available 3
 * </pre>
 *
 * <pre>
 * java -cp app.jar:... dev.flops.aggregator.AggregatorMain \
 *     --model-factory com.example.MyModelFactory --port 50051 --rounds 5 --min-available 3 \
 *     --tls-cert aggregator.pem --tls-key aggregator.key --token-file token
 * </pre>
 */
@Command(name = "flops-aggregator", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs a flops aggregator (a federated app's jar, or FedAvg on a model "
        + "factory) until every round has run. "
        + "`AggregatorMain flush-tracking --help`: deliver a tracking outbox.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:training finished every round",
        "1:training failed, or could not resume (a corrupt or unreadable checkpoint)",
        "2:bad options or settings", "130:stopped by SIGINT", "143:stopped by SIGTERM"})
public final class AggregatorMain implements Callable<Integer>, CommandLineFlags.Command {

  @Option(names = "--model-factory",
      description = "Class implementing Supplier<FederatedModel>: the aggregator's model copy "
          + "(FedAvg; instead of --app).")
  String modelFactory;

  @Option(names = "--app", paramLabel = "JAR",
      description = "A federated app's jar (one dev.flops.api.app.FederatedApp provider): its "
          + "model, strategy and plan; plan options given here override the app's.")
  java.nio.file.Path app;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--host", defaultValue = "0.0.0.0",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "" + Aggregator.DEFAULT_PORT,
      description = "Port to listen on (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--rounds", defaultValue = "3",
      description = "Rounds (default: ${DEFAULT-VALUE}; with --app, the app's plan unless given).")
  int rounds;

  @Option(names = "--fraction-fit", defaultValue = "1.0",
      description = "Fraction of learners sampled to fit (default: ${DEFAULT-VALUE}).")
  double fractionFit;

  @Option(names = "--fraction-evaluate", defaultValue = "1.0",
      description = "Fraction of learners sampled to evaluate (default: ${DEFAULT-VALUE}).")
  double fractionEvaluate;

  @Option(names = "--min-fit", defaultValue = "1",
      description = "Least learners sampled to fit, and least updates a round needs (default: ${DEFAULT-VALUE}).")
  int minFit;

  @Option(names = "--min-evaluate", defaultValue = "1",
      description = "Least learners sampled to evaluate, and least results a round needs (default: ${DEFAULT-VALUE}).")
  int minEvaluate;

  @Option(names = "--min-available", defaultValue = "1",
      description = "Learners that must be connected before a round starts (default: "
          + "${DEFAULT-VALUE}; with --app, the app's plan unless given).")
  int minAvailable;

  @Option(names = "--accept-failures", defaultValue = "true", arity = "1",
      description = "Aggregate a round despite failed learners (default: ${DEFAULT-VALUE}).")
  boolean acceptFailures;

  @Option(names = "--round-timeout", defaultValue = "600",
      description = "Seconds a fit or evaluate task may take (default: ${DEFAULT-VALUE}).")
  long roundTimeoutSeconds;

  @Option(names = "--learner-wait", defaultValue = "600",
      description = "Seconds to wait for enough learners before failing (default: ${DEFAULT-VALUE}).")
  long learnerWaitSeconds;

  @Option(names = "--on-insufficient-results", defaultValue = "RETRY",
      description = "RETRY or FAIL: what a round does when fewer than --min-fit updates (or "
          + "--min-evaluate evaluations) arrive (default: ${DEFAULT-VALUE}).")
  InsufficientResults onInsufficientResults;

  @Option(names = "--max-round-attempts",
      description = "Attempts a round phase gets under RETRY before training fails (default: "
          + TrainingPlan.DEFAULT_MAX_ROUND_ATTEMPTS + ").")
  Integer maxRoundAttempts;

  @Mixin
  BestRoundOptions bestRound = new BestRoundOptions();

  @Mixin
  CheckpointOptions checkpoints = new CheckpointOptions();

  @Option(names = "--fit-config", paramLabel = "KEY=VALUE",
      description = "Fit config entry sent to learners every round, e.g. local_epochs=1 (repeatable).")
  Map<String, String> fitConfig = new LinkedHashMap<>();

  @Mixin
  AggregatorSecurityOptions security = new AggregatorSecurityOptions();

  @Mixin
  TrackingOptions tracking = new TrackingOptions(null);

  @Mixin
  NotifyOptions notify = new NotifyOptions(null);

  @Mixin
  ReproducibleOptions reproducible = new ReproducibleOptions();

  @Mixin
  AggregatorThreadsOptions nativeThreads = new AggregatorThreadsOptions();

  /**
   * Runs the aggregator.
   *
   * @param args command-line arguments; {@code --help} lists them; {@code flush-tracking ...}
   *     delivers a tracking outbox instead (its {@code --help} lists its options)
   */
  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("flush-tracking")) {
      System.exit(FlushTrackingCommand.run(
          java.util.Arrays.copyOfRange(args, 1, args.length), System.getenv()));
    }
    // Standard output is for results: libraries' own prints (ND4J's and OpenBLAS's notices, a
    // console logging backend) go to standard error with the logs.
    PrintStream results = System.out;
    System.setOut(System.err);
    CommandLine commandLine = commandLine(new AggregatorMain());
    commandLine.setOut(new PrintWriter(results, true)); // --help and --version
    System.exit(commandLine.execute(args));
  }

  /**
   * The builder knobs this command's flags set, so that an error names the flag the user typed
   * ({@code --min-available}) rather than the knob ({@code minAvailableLearners}).
   */
  static final CommandLineFlags FLAGS = CommandLineFlags.of(Map.ofEntries(
      Map.entry("rounds must", "--rounds must"),
      Map.entry("fractionFit", "--fraction-fit"),
      Map.entry("fractionEvaluate", "--fraction-evaluate"),
      Map.entry("minFitLearners", "--min-fit"),
      Map.entry("minEvaluateLearners", "--min-evaluate"),
      Map.entry("minFitResults", "--min-fit"),
      Map.entry("minEvaluateResults", "--min-evaluate"),
      Map.entry("minAvailableLearners", "--min-available"),
      Map.entry("acceptFailures", "--accept-failures"),
      Map.entry("roundTimeout", "--round-timeout"),
      Map.entry("learnerWait", "--learner-wait"),
      Map.entry("onInsufficientResults", "--on-insufficient-results"),
      Map.entry("maxRoundAttempts", "--max-round-attempts"),
      Map.entry("checkpointDirectory", "--checkpoint-dir"),
      Map.entry("resume(true)", "--resume"),
      Map.entry("requireClientCertificates", "--client-ca"),
      Map.entry("learnerToken", "--token-file"),
      Map.entry("learnerTokens", "--learner-tokens"),
      Map.entry("maxCallsPerAddress", "--max-calls-per-address"),
      Map.entry("maxCalls", "--max-calls")));

  @Override
  public CommandLineFlags commandLineFlags() {
    return FLAGS;
  }

  static CommandLine commandLine(Object command) {
    CommandLine commandLine = new CommandLine(command);
    commandLine.setExecutionExceptionHandler((e, cl, parsed) -> {
      cl.getErr().println("error: " + CommandLineFlags.inTermsOf(cl.getCommand(), e.getMessage()));
      return e instanceof IllegalArgumentException || e instanceof IllegalStateException ? 2 : 1;
    });
    return commandLine;
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (app != null) {
      return AppAggregator.run(this, spec.commandLine().getParseResult());
    }
    if (modelFactory == null) {
      throw new IllegalArgumentException("give --app JAR (a federated app's jar) or "
          + "--model-factory CLASS (a Supplier<FederatedModel> on the classpath)");
    }
    Config config = parseConfig(fitConfig);
    bestRound.ranking(); // checked before the model is made, which may take long
    FedAvg strategy = FedAvg.builder()
        .fractionFit(fractionFit)
        .fractionEvaluate(fractionEvaluate)
        .minFitLearners(minFit)
        .minEvaluateLearners(minEvaluate)
        .acceptFailures(acceptFailures)
        .fitConfig(round -> config)
        .build();
    SignalStop signals = new SignalStop();
    TrainingPlan.Builder plan = TrainingPlan.builder()
        .rounds(rounds)
        .minFitResults(minFit)
        .minEvaluateResults(minEvaluate)
        .minAvailableLearners(minAvailable)
        .roundTimeout(Duration.ofSeconds(roundTimeoutSeconds))
        .learnerWait(Duration.ofSeconds(learnerWaitSeconds))
        .onInsufficientResults(onInsufficientResults)
        .bestRound(bestRound.ranking());
    if (maxRoundAttempts != null) {
      plan.maxRoundAttempts(maxRoundAttempts);
    }
    TrainingPlan training =
        signals.observe(checkpoints.applyTo(notify.applyTo(tracking.applyTo(plan)))).build();
    FederatedModel model = instantiate(modelFactory, FederatedModel.class).get();
    Aggregator.Builder builder = nativeThreads.applyTo(reproducible.applyTo(security.applyTo(Aggregator.builder()
        .host(host)
        .port(port)
        .model(model))));
    try (NotifyOptions flushedLast = notify;
        Aggregator aggregator = builder.build().start();
        SignalStop armed = signals.arm(aggregator)) {
      TrainingResult result = aggregator.train(training, strategy);
      return result.rounds().size() == rounds ? 0 : 1;
    }
  }

  /**
   * Parses {@code KEY=VALUE} entries: {@code true}/{@code false} become booleans, whole numbers
   * longs, other numbers doubles, anything else strings.
   */
  static Config parseConfig(Map<String, String> entries) {
    Map<String, Object> values = new LinkedHashMap<>();
    entries.forEach((key, text) -> values.put(key, parseScalar(text)));
    return new Config(values);
  }

  static Object parseScalar(String text) {
    if (text.equals("true") || text.equals("false")) {
      return Boolean.parseBoolean(text);
    }
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException notLong) {
      try {
        return Double.parseDouble(text);
      } catch (NumberFormatException notDouble) {
        return text;
      }
    }
  }

  /**
   * Loads {@code className}, which must implement {@code Supplier<T>} with a public no-argument
   * constructor, and checks what it supplies.
   */
  static <T> Supplier<T> instantiate(String className, Class<T> type) {
    Object instance;
    try {
      instance = Class.forName(className).getDeclaredConstructor().newInstance();
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("class " + className + " is not on the classpath");
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException("cannot create " + className
          + ": it needs a public no-argument constructor (" + e + ")");
    }
    if (!(instance instanceof Supplier<?> supplier)) {
      throw new IllegalArgumentException(className + " must implement java.util.function.Supplier<"
          + type.getSimpleName() + ">");
    }
    return () -> {
      Object supplied = supplier.get();
      if (!type.isInstance(supplied)) {
        throw new IllegalArgumentException(className + " supplied "
            + (supplied == null ? "null" : supplied.getClass().getName()) + ", not a "
            + type.getName());
      }
      return type.cast(supplied);
    };
  }
}
