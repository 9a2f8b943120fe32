package dev.flops.api.strategy.catalog;

import dev.flops.api.strategy.Bulyan;
import dev.flops.api.strategy.FedAdagrad;
import dev.flops.api.strategy.FedAdam;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.FedAvgM;
import dev.flops.api.strategy.FedMedian;
import dev.flops.api.strategy.FedProx;
import dev.flops.api.strategy.FedTrimmedAvg;
import dev.flops.api.strategy.FedYogi;
import dev.flops.api.strategy.Krum;
import dev.flops.api.strategy.MultiKrum;
import dev.flops.api.strategy.Strategy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.function.BiConsumer;

/**
 * The strategies flops ships, by the name a command line chooses them with:
 * {@code NAME[:knob=value,...]}, e.g. {@code fedadam:eta=0.01,beta1=0.9} or {@code krum:f=2}.
 * The examples' {@code --strategy} option and its help are made from this list, and so is the
 * README's strategy table.
 *
 * <pre>{@code
 * Strategy strategy = StrategyCatalog.create("fedprox:mu=0.1", FedAvg.builder().fractionFit(0.5));
 * }</pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class StrategyCatalog {

  private static final String REDDI = "Reddi, Charles, Zaheer, Garrett, Rush, Konecny, Kumar and "
      + "McMahan 2021, Adaptive Federated Optimization";
  private static final String YIN = "Yin, Chen, Ramchandran and Bartlett 2018, Byzantine-Robust "
      + "Distributed Learning: Towards Optimal Statistical Rates";
  private static final String BLANCHARD = "Blanchard, El Mhamdi, Guerraoui and Stainer 2017, "
      + "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent";
  private static final KnobSpec BYZANTINE =
      new KnobSpec("f", "0", "Byzantine learners to tolerate, at least 0");
  private static final KnobSpec STAGING = new KnobSpec("staging_dir", "java.io.tmpdir/flops-staging",
      "directory where a round's updates are staged on disk, deleted when the round ends");
  private static final KnobSpec ETA_ONE = eta("1.0");
  private static final KnobSpec BETA1 =
      new KnobSpec("beta1", "0.9", "decay of the first moment (momentum), in [0, 1)");
  private static final KnobSpec BETA2 =
      new KnobSpec("beta2", "0.99", "decay of the second moment, in [0, 1)");

  private static final List<StrategyChoice> CHOICES = List.of(
      new StrategyChoice("fedavg",
          "McMahan et al. 2017, Communication-Efficient Learning of Deep Networks from "
              + "Decentralized Data",
          "the default: IID or mildly non-IID data, trusted learners",
          List.of(), (base, knobs) -> base.build()),
      new StrategyChoice("fedavgm",
          "Hsu, Qi and Brown 2019, Measuring the Effects of Non-Identical Data Distribution for "
              + "Federated Visual Classification",
          "non-IID data: server momentum damps the round-to-round drift of the global model",
          List.of(ETA_ONE, new KnobSpec("momentum", "0.9", "server momentum beta, in [0, 1)")),
          (base, knobs) -> FedAvgM.builder().serverLearningRate(knobs.number("eta"))
              .momentum(knobs.number("momentum")).base(base).build()),
      new StrategyChoice("fedadagrad", REDDI,
          "non-IID data with rare, sparse features: per-parameter steps shrink where updates "
              + "were large",
          List.of(eta("0.1"), BETA1, tau("1e-9")),
          (base, knobs) -> FedAdagrad.builder().serverLearningRate(knobs.number("eta"))
              .beta1(knobs.number("beta1")).tau(knobs.number("tau")).base(base).build()),
      new StrategyChoice("fedadam", REDDI,
          "non-IID data: Adam on the server adapts each parameter's step; tune eta (0.001-0.01) "
              + "and tau (1e-3)",
          List.of(eta("0.1"), BETA1, BETA2, tau("1e-9")),
          (base, knobs) -> FedAdam.builder().serverLearningRate(knobs.number("eta"))
              .beta1(knobs.number("beta1")).beta2(knobs.number("beta2"))
              .tau(knobs.number("tau")).base(base).build()),
      new StrategyChoice("fedyogi", REDDI,
          "non-IID data: like FedAdam with a second moment that grows more carefully",
          List.of(eta("0.01"), BETA1, BETA2, tau("1e-3")),
          (base, knobs) -> FedYogi.builder().serverLearningRate(knobs.number("eta"))
              .beta1(knobs.number("beta1")).beta2(knobs.number("beta2"))
              .tau(knobs.number("tau")).base(base).build()),
      new StrategyChoice("fedprox",
          "Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith 2020, Federated Optimization in "
              + "Heterogeneous Networks",
          "heterogeneous data or uneven local work: a proximal term keeps local models near the "
              + "global one",
          List.of(new KnobSpec("mu", "0.01",
              "weight of the proximal term mu/2 ||w - w_global||^2 sent as proximal_mu, > 0")),
          (base, knobs) -> FedProx.builder().proximalMu(knobs.number("mu")).base(base).build()),
      new StrategyChoice("fedmedian", YIN,
          "untrusted learners: the coordinate-wise median ignores a minority of outliers",
          List.of(STAGING),
          (base, knobs) -> staged(FedMedian.builder(), knobs, FedMedian.Builder::stagingDirectory).base(base).build()),
      new StrategyChoice("fedtrimmedavg", YIN,
          "untrusted learners: the mean of each coordinate without its extremes",
          List.of(new KnobSpec("beta", "0.2", "fraction cut at each end, in [0, 0.5)"), STAGING),
          (base, knobs) -> staged(FedTrimmedAvg.builder(), knobs, FedTrimmedAvg.Builder::stagingDirectory).beta(knobs.number("beta"))
              .base(base).build()),
      new StrategyChoice("krum", BLANCHARD,
          "up to f Byzantine learners: keeps the one update closest to its n-f-2 neighbours "
              + "(needs n > 2f+2)",
          List.of(BYZANTINE, STAGING),
          (base, knobs) -> staged(Krum.builder(), knobs, Krum.Builder::stagingDirectory)
              .byzantine(knobs.integer("f")).base(base).build(),
          (knobs, n) -> krumNeeds("krum", knobs, n)),
      new StrategyChoice("multikrum", BLANCHARD,
          "up to f Byzantine learners, more data used than Krum: averages the m best-scored "
              + "updates (needs n > 2f+2)",
          List.of(BYZANTINE, new KnobSpec("m", "n-f", "updates averaged, at least 1"), STAGING),
          (base, knobs) -> {
            MultiKrum.Builder builder =
                staged(MultiKrum.builder(), knobs, MultiKrum.Builder::stagingDirectory)
                    .byzantine(knobs.integer("f"));
            if (knobs.has("m")) {
              builder.keep(knobs.integer("m"));
            }
            return builder.base(base).build();
          },
          (knobs, n) -> krumNeeds("multikrum", knobs, n).or(() -> knobs.has("m")
              && knobs.integer("m") > n
              ? Optional.of("multikrum:m=" + knobs.integer("m") + " averages more updates than "
                  + "the " + n + " a round has")
              : Optional.empty())),
      new StrategyChoice("bulyan",
          "El Mhamdi, Guerraoui and Rouault 2018, The Hidden Vulnerability of Distributed Learning "
              + "in Byzantium",
          "up to f Byzantine learners, strongest guarantee: Krum selection, then a trimmed "
              + "median (needs n >= 4f+3)",
          List.of(BYZANTINE, STAGING),
          (base, knobs) -> staged(Bulyan.builder(), knobs, Bulyan.Builder::stagingDirectory)
              .byzantine(knobs.integer("f")).base(base).build(),
          (knobs, n) -> {
            int f = knobs.integer("f");
            return n >= 4 * f + 3 ? Optional.empty() : Optional.of("bulyan:f=" + f
                + " needs at least 4f+3 = " + (4 * f + 3) + " updates a round");
          }));

  private StrategyCatalog() {}

  private static <B> B staged(B builder, KnobValues knobs, BiConsumer<B, Path> stagingDirectory) {
    knobs.text("staging_dir").ifPresent(dir -> stagingDirectory.accept(builder, Path.of(dir)));
    return builder;
  }

  private static Optional<String> krumNeeds(String name, KnobValues knobs, int n) {
    int f = knobs.integer("f");
    return n > 2 * f + 2 ? Optional.empty() : Optional.of(name + ":f=" + f
        + " needs more than 2f+2 = " + (2 * f + 2) + " updates a round");
  }

  private static KnobSpec eta(String defaultValue) {
    return new KnobSpec("eta", defaultValue, "server learning rate, > 0");
  }

  private static KnobSpec tau(String defaultValue) {
    return new KnobSpec("tau", defaultValue, "adaptivity: added to the root of the second moment, > 0");
  }

  /**
   * Returns every strategy, in the order help lists them.
   *
   * @return the entries, unmodifiable
   */
  public static List<StrategyChoice> choices() {
    return CHOICES;
  }

  /**
   * Returns the entry of a name.
   *
   * @param name a strategy's name, any case
   * @return the entry
   * @throws IllegalArgumentException if there is none of that name; the message lists the names
   */
  public static StrategyChoice choice(String name) {
    String wanted = Objects.requireNonNull(name, "name").trim().toLowerCase(Locale.ROOT);
    for (StrategyChoice choice : CHOICES) {
      if (choice.name().equals(wanted)) {
        return choice;
      }
    }
    throw new IllegalArgumentException("unknown strategy '" + name + "'; choose one of "
        + names() + " (StrategyCatalog.help(), or --help on the command line, lists their knobs)");
  }

  /**
   * Builds the strategy a specification names.
   *
   * @param specification {@code NAME} or {@code NAME:knob=value,knob=value}
   * @param base FedAvg's settings that every strategy inherits (sampling, configs, central
   *     evaluation, metrics functions); the builder is not changed
   * @return the strategy
   * @throws IllegalArgumentException if the name is unknown, a knob is unknown, repeated or has
   *     no value, or a value is out of range; the message names what was typed and the choices
   */
  public static Strategy create(String specification, FedAvg.Builder base) {
    Objects.requireNonNull(base, "base");
    KnobValues knobs = parse(specification);
    try {
      return choice(knobs.strategy()).factory().create(base, knobs);
    } catch (IllegalArgumentException | IllegalStateException e) {
      String prefix = knobs.strategy() + ": ";
      if (e.getMessage() != null && e.getMessage().startsWith(prefix)) {
        throw e; // a KnobValues message already names the strategy and the knob
      }
      throw new IllegalArgumentException(prefix + e.getMessage(), e);
    }
  }

  /**
   * Checks that the strategy a specification names can combine the updates of a round with this
   * many learners (Krum needs {@code n > 2f+2}, Bulyan {@code n >= 4f+3}), so that a command line
   * that can never aggregate is refused before anything starts.
   *
   * @param specification {@code NAME} or {@code NAME:knob=value,...}
   * @param learners the updates a round will have (the learners sampled), at least 1
   * @throws IllegalArgumentException if the specification is invalid (as {@link #create}) or the
   *     strategy cannot combine that many updates; the message says what to change
   */
  public static void checkLearners(String specification, int learners) {
    KnobValues knobs = parse(specification);
    choice(knobs.strategy()).requirement().check(knobs, learners).ifPresent(problem -> {
      throw new IllegalArgumentException(problem + " but a round has " + learners
          + " learners: give more learners or a smaller f");
    });
  }

  /**
   * Parses a specification and checks its knobs against the named strategy's, without building it.
   *
   * @param specification {@code NAME} or {@code NAME:knob=value,...}
   * @return the strategy's name and typed knobs
   * @throws IllegalArgumentException as {@link #create}
   */
  public static KnobValues parse(String specification) {
    Objects.requireNonNull(specification, "specification");
    int colon = specification.indexOf(':');
    String name = (colon < 0 ? specification : specification.substring(0, colon)).trim();
    StrategyChoice choice = choice(name);
    Map<String, String> values = new LinkedHashMap<>();
    if (colon >= 0) {
      for (String pair : specification.substring(colon + 1).split(",", -1)) {
        int equals = pair.indexOf('=');
        String knob = (equals < 0 ? pair : pair.substring(0, equals)).trim();
        if (equals < 0 || knob.isEmpty() || pair.substring(equals + 1).isBlank()) {
          throw new IllegalArgumentException(choice.name() + ": '" + pair + "' is not knob=value; "
              + "write e.g. " + example(choice));
        }
        if (choice.knob(knob) == null) {
          throw new IllegalArgumentException(choice.name() + " has no knob '" + knob + "'; "
              + (choice.knobs().isEmpty() ? "it takes none" : "its knobs are " + knobNames(choice)));
        }
        if (values.put(knob, pair.substring(equals + 1).trim()) != null) {
          throw new IllegalArgumentException(
              choice.name() + ": knob '" + knob + "' is given twice in '" + specification + "'");
        }
      }
    }
    return KnobValues.of(choice, values);
  }

  /**
   * Describes every strategy and its knobs with defaults, for a command's help.
   *
   * @return lines, each strategy's name followed by its indented knobs
   */
  public static String help() {
    StringBuilder help = new StringBuilder();
    for (StrategyChoice choice : CHOICES) {
      help.append(String.format(Locale.ROOT, "  %-14s %s%n", choice.name(), choice.whenToUse()));
      for (KnobSpec knob : choice.knobs()) {
        help.append(String.format(Locale.ROOT, "      %-12s %s (default %s)%n",
            knob.name(), knob.description(), knob.defaultValue()));
      }
    }
    return help.toString();
  }

  private static String names() {
    List<String> names = new ArrayList<>();
    CHOICES.forEach(choice -> names.add(choice.name()));
    return String.join(", ", names);
  }

  private static String knobNames(StrategyChoice choice) {
    StringJoiner names = new StringJoiner(", ");
    choice.knobs().forEach(knob -> names.add(knob.name()));
    return names.toString();
  }

  private static String example(StrategyChoice choice) {
    if (choice.knobs().isEmpty()) {
      return choice.name();
    }
    KnobSpec knob = choice.knobs().get(0);
    return choice.name() + ":" + knob.name() + "=" + knob.defaultValue();
  }
}
