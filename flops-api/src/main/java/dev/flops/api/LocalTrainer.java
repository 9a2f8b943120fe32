package dev.flops.api;

/**
 * The learner-side work of a federation: the user's model plus what it trains and evaluates on.
 *
 * <p>The learner runtime calls {@link #prepare()} once, before it connects to the aggregator, and
 * then, for every task the aggregator sends, sets the round's global parameters into
 * {@link #model()} and calls {@link #fit} or {@link #evaluate} with the round's configuration.
 * Calls come from one thread at a time.
 */
public interface LocalTrainer {

  /**
   * Returns the model that tasks train and evaluate.
   *
   * @return the model; the same instance on every call
   */
  FederatedModel model();

  /**
   * Loads and prepares the local data. Called once, before the learner connects, so that a learner
   * whose data cannot be read never joins a federation.
   *
   * @throws Exception if the data cannot be loaded; the learner then stops without connecting
   */
  default void prepare() throws Exception {}

  /**
   * Trains the model, which already holds the round's global parameters, on the local data.
   *
   * @param config the round's fit configuration (e.g. {@code local_epochs}, {@code batch_size};
   *     under {@link dev.flops.api.strategy.FedProx} also {@code proximal_mu}, the weight
   *     {@code μ} of a proximal term {@code (μ/2)·‖w − w_g‖²} to add to the local loss, {@code
   *     w_g} being the parameters the model holds when fit is called; a trainer that ignores the
   *     key trains as under FedAvg)
   * @return the updated parameters, the number of examples trained on and any metrics
   * @throws Exception if training fails; the aggregator counts it as a failure of this learner
   */
  FitResult fit(Config config) throws Exception;

  /**
   * Evaluates the model, which already holds the round's global parameters, on the local data.
   * It must leave the model's parameters unchanged: the learner fits the next round from them
   * without downloading the same global parameters a second time.
   *
   * @param config the round's evaluate configuration
   * @return the loss, the number of examples evaluated and metrics (e.g. {@code accuracy})
   * @throws Exception if evaluation fails; the aggregator counts it as a failure of this learner
   */
  EvaluateResult evaluate(Config config) throws Exception;
}
