package dev.flops.aggregator;

/**
 * The default training plan of a {@link dev.flops.api.app.FederatedApp}: an app class may
 * implement this interface as well, to set the loop policy (rounds, learners needed, timeouts,
 * checkpoints...) that the generic {@link AggregatorMain} runs it with. It lives here, not in
 * flops-api, because a plan is an aggregator type.
 *
 * <pre>{@code
 * public final class MyApp implements FederatedApp, AppPlan {
 *   public TrainingPlan.Builder plan(TrainingPlan.Builder defaults) {
 *     return defaults.rounds(10).minAvailableLearners(3);
 *   }
 *   ...
 * }
 * }</pre>
 *
 * <p>Precedence, lowest first: {@link TrainingPlan}'s defaults with the app's name as the MLflow
 * experiment, then this method, then the options given on the aggregator's command line.
 */
public interface AppPlan {

  /**
   * Sets the app's defaults on a plan builder.
   *
   * @param defaults a builder holding flops's defaults and the experiment named after the app
   * @return the same builder (or one made by {@link TrainingPlan#toBuilder()})
   * @throws IllegalArgumentException as the builder's setters do, for a bad value
   */
  TrainingPlan.Builder plan(TrainingPlan.Builder defaults);
}
