package dev.flops.api.app;

import dev.flops.api.FederatedModel;
import dev.flops.api.LocalTrainer;
import dev.flops.api.strategy.Strategy;

/**
 * A federated application packaged as a jar: what the generic aggregator and learner mains need
 * to run it, so that a user writes no {@code main} of their own.
 *
 * <p>The jar declares exactly one implementation as a {@link java.util.ServiceLoader} provider, in
 * the file {@code META-INF/services/dev.flops.api.app.FederatedApp} whose one line is the
 * implementation's binary name. The implementation needs a public no-argument constructor (or a
 * public static {@code provider()} method, as {@code ServiceLoader} allows). {@link FederatedApps}
 * loads it; the generic mains run it:
 *
 * <pre>
 * java -cp ... dev.flops.aggregator.AggregatorMain --app my-app.jar --rounds 5
 * java -cp ... dev.flops.learner.LearnerMain --app my-app.jar --aggregator host:50051 \
 *     --data /srv/data --data-tags iid --index 0 --learners 3
 * </pre>
 *
 * <p>The aggregator calls {@link #name()}, {@link #newModel()} and {@link #strategy()}; a learner
 * calls {@link #name()} and {@link #newTrainer(LearnerContext)}. One process makes one instance
 * and calls these methods from one thread. An app that also wants to set the aggregator's loop
 * policy (rounds, minimum learners, ...) implements {@code dev.flops.aggregator.AppPlan} as well;
 * the aggregator's command-line options override what it sets.
 *
 * <p>Methods may throw: the mains report the app's class, the method and the cause, and exit.
 */
public interface FederatedApp {

  /**
   * Returns the app's name: the default MLflow experiment and the prefix of learner names.
   *
   * @return a non-blank name such as {@code fashion-mnist}
   */
  String name();

  /**
   * Makes the aggregator's copy of the model, without data; its parameters are the initial
   * global parameters. Called once per aggregator process.
   *
   * @return a new model, initialised (seeded) the same way on every call
   */
  FederatedModel newModel();

  /**
   * Makes one learner's local work from its context: the same model as {@link #newModel()} and
   * the learner's share of the data. The data may be read here or in
   * {@link LocalTrainer#prepare()}: either way before the learner connects, so that a learner
   * whose data cannot be read never joins.
   *
   * @param context where this learner's data is and which learner it is; never null
   * @return the learner's trainer
   * @throws IllegalArgumentException if the context does not suit the app (an unknown data tag,
   *     say); the message should name the tag and the accepted ones
   * @throws java.io.UncheckedIOException if the data directory lacks the app's files or they
   *     cannot be read; the message should name the directory and what it lacks. The learner
   *     prints it as a data problem (exit 2), not as a bug of the app
   */
  LocalTrainer newTrainer(LearnerContext context);

  /**
   * Makes the default strategy (decisions: sampling, fit configuration, aggregation,
   * evaluation). Called once per training on the aggregator.
   *
   * @return a new strategy, e.g. a configured {@link dev.flops.api.strategy.FedAvg}
   */
  Strategy strategy();
}
