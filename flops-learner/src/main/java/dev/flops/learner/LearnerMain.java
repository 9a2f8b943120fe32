package dev.flops.learner;

import dev.flops.api.LocalTrainer;
import dev.flops.proto.codec.CommandLineFlags;
import dev.flops.proto.codec.FlopsVersion;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Runs a learner as its own process. The local work comes from a federated app's jar
 * ({@code --app}, see {@link dev.flops.api.app.FederatedApp}: the app makes the trainer for this
 * learner's data directory, data tags, index and count), or from a class on the classpath that
 * implements {@code Supplier<LocalTrainer>} and has a public no-argument constructor
 * ({@code --trainer-factory}).
 *
 * <pre>
 * java -cp flops-and-dependencies... dev.flops.learner.LearnerMain \
 *     --app my-app.jar --aggregator 10.0.0.5:50051 --data /srv/data --data-tags iid \
 *     --index 0 --learners 3 --trust-file ca.pem --token-file token
 * </pre>
 *
 * <pre>
 * java -cp app.jar:... dev.flops.learner.LearnerMain \
 *     --aggregator 10.0.0.5:50051 --trainer-factory com.example.MyTrainerFactory --name site-a \
 *     --trust-file ca.pem --token-file token
 * </pre>
 *
 * <p>Exit codes: 0 the aggregator's training finished; 1 the learner failed (its local work,
 * aggregator unreachable past {@code --connect-timeout}, refused); 2 bad options, or a
 * {@code --data} directory that is missing or that the app cannot read; 3 the
 * aggregator's training failed; 4 the aggregator stopped before its training ended. After 3 or 4
 * a supervisor should restart the learner: it then waits for the resumed aggregator.
 */
@Command(name = "flops-learner", mixinStandardHelpOptions = true,
    versionProvider = FlopsVersion.class,
    description = "Runs a flops learner until the aggregator finishes the federation.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:the aggregator's training finished",
        "1:the learner failed (local work, unreachable or refusing aggregator)",
        "2:bad options, or a --data directory the app cannot read",
        "3:the aggregator's training failed (restart to join its next run)",
        "4:the aggregator stopped before its training ended"})
public final class LearnerMain implements Callable<Integer>, CommandLineFlags.Command {
  /**
   * The builder knobs these flags set, so that an error names the flag the user typed (the
   * security options name their own flags already).
   */
  private static final CommandLineFlags FLAGS =
      CommandLineFlags.of(Map.of("connectTimeout", "--connect-timeout"));

  @Override
  public CommandLineFlags commandLineFlags() {
    return FLAGS;
  }


  @Option(names = "--aggregator", required = true, paramLabel = "HOST:PORT",
      description = "The aggregator's address.")
  String aggregator;

  @Option(names = "--trainer-factory",
      description = "Class implementing Supplier<LocalTrainer>: the model and its local data "
          + "(instead of --app).")
  String trainerFactory;

  @Option(names = "--app", paramLabel = "JAR",
      description = "A federated app's jar (one dev.flops.api.app.FederatedApp provider), which "
          + "makes the trainer from --data, --data-tags, --index and --learners.")
  java.nio.file.Path app;

  @Option(names = "--data", paramLabel = "DIR",
      description = "With --app: the directory that holds this learner's data.")
  java.nio.file.Path data;

  @Option(names = "--data-tags", paramLabel = "TAG[,TAG...]", defaultValue = "",
      description = "With --app: tags that select or describe the data, passed to the app.")
  String dataTags;

  @Option(names = "--index", defaultValue = "0",
      description = "With --app: this learner's index, 0 to --learners - 1 (default: "
          + "${DEFAULT-VALUE}).")
  int index;

  @Option(names = "--learners", defaultValue = "1",
      description = "With --app: how many learners share the data (default: ${DEFAULT-VALUE}).")
  int learners;

  @Option(names = "--name",
      description = "Name shown in logs (default: learner; with --app: APP-NAME-INDEX).")
  String name;

  @Option(names = "--connect-timeout", defaultValue = "600",
      description = "Seconds to keep retrying an unreachable aggregator (default: ${DEFAULT-VALUE}).")
  long connectTimeoutSeconds;

  @Mixin
  LearnerSecurityOptions security = new LearnerSecurityOptions();

  @Mixin
  NativeThreadsOptions nativeThreads = new NativeThreadsOptions();

  /**
   * Runs the learner.
   *
   * @param args command-line arguments; {@code --help} lists them
   */
  public static void main(String[] args) {
    // Standard output is for results: libraries' own prints (ND4J's and OpenBLAS's notices, a
    // console logging backend) go to standard error with the logs.
    PrintStream results = System.out;
    System.setOut(System.err);
    CommandLine commandLine = commandLine(new LearnerMain());
    commandLine.setOut(new PrintWriter(results, true)); // --help and --version
    System.exit(commandLine.execute(args));
  }

  /**
   * Returns a command line that prints errors as one line instead of a stack trace, and exits
   * with the codes listed in the class comment.
   *
   * @param command the picocli command object
   * @return the command line
   */
  public static CommandLine commandLine(Object command) {
    CommandLine commandLine = new CommandLine(command);
    commandLine.setExecutionExceptionHandler((e, cl, parsed) -> {
      cl.getErr().println("error: " + CommandLineFlags.inTermsOf(cl.getCommand(), e.getMessage()));
      if (e instanceof FederationFailedException failed) {
        return failed.exitCode();
      }
      return e instanceof IllegalArgumentException || e instanceof IllegalStateException ? 2 : 1;
    });
    return commandLine;
  }

  @Override
  public Integer call() throws LearnerException, InterruptedException {
    LocalTrainer trainer;
    String name = this.name;
    if (app != null) {
      if (trainerFactory != null) {
        throw new IllegalArgumentException("--app and --trainer-factory both given: the app's "
            + "jar makes the trainer; drop --trainer-factory");
      }
      AppLearner.Named named = AppLearner.trainer(app, data, dataTags, index, learners, name);
      trainer = named.trainer();
      name = named.name();
    } else if (data != null) {
      throw new IllegalArgumentException("--data is for --app: a --trainer-factory finds its "
          + "own data");
    } else if (trainerFactory == null) {
      throw new IllegalArgumentException("give --app JAR (a federated app's jar) or "
          + "--trainer-factory CLASS (a Supplier<LocalTrainer> on the classpath)");
    } else {
      trainer = load(trainerFactory);
      name = name == null ? "learner" : name;
    }
    nativeThreads.apply(LearnerMain.class.getName());
    security.applyTo(Learner.builder()
            .aggregator(aggregator)
            .name(name)
            .trainer(trainer)
            .connectTimeout(Duration.ofSeconds(connectTimeoutSeconds)))
        .build()
        .run();
    return 0;
  }

  private static LocalTrainer load(String className) {
    Object instance;
    try {
      instance = Class.forName(className).getDeclaredConstructor().newInstance();
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("class " + className + " is not on the classpath");
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException("cannot create " + className
          + ": it needs a public no-argument constructor (" + e + ")");
    }
    if (!(instance instanceof Supplier<?> supplier)
        || !(supplier.get() instanceof LocalTrainer trainer)) {
      throw new IllegalArgumentException(
          className + " must implement java.util.function.Supplier<LocalTrainer>");
    }
    return trainer;
  }
}
