package dev.flops.dl4j;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * FedProx's proximal term (Li et al., "Federated Optimization in Heterogeneous Networks", MLSys
 * 2020) for a DL4J network: adds {@code μ·(w − w_g)}, the gradient of {@code (μ/2)·‖w − w_g‖²},
 * to every minibatch's gradient.
 *
 * <p>Why {@code onGradientCalculation}: DL4J's optimizer ({@code BaseOptimizer.gradientAndScore},
 * checked in 1.0.0-M2.1) calls {@code computeGradientAndScore}, then every listener's
 * {@code onGradientCalculation}, and only then the updater (Adam, SGD...) on the flattened
 * gradient before the step {@code w -= update}. So the term is part of the gradient the updater
 * sees, as if it were in the loss, and not added to the updater's output.
 *
 * <p>Why times the minibatch size: at that point the gradient is still the minibatch's sum; the
 * updater first divides it by the minibatch size (DL4J's {@code miniBatch(true)}, the default;
 * {@code BaseMultiLayerUpdater.update}) and then transforms it. Adding {@code B·μ·(w − w_g)}
 * makes the step's gradient the mean loss's plus {@code μ·(w − w_g)}, whatever the batch size.
 *
 * <p>One instance serves one fit: it holds a copy of the global parameters and a scratch buffer,
 * both shaped like the network's flattened parameters.
 */
final class ProximalTerm extends BaseTrainingListener {

  private final double mu;
  private final INDArray global;
  private final INDArray scratch;

  /**
   * Captures the global parameters the fit starts from.
   *
   * @param mu the weight, positive and finite
   * @param globalParameters the network's flattened parameters at the start of the fit; copied
   */
  ProximalTerm(double mu, INDArray globalParameters) {
    this.mu = mu;
    this.global = globalParameters.dup();
    this.scratch = globalParameters.ulike();
  }

  @Override
  public void onGradientCalculation(Model model) {
    // the flattened gradient and parameters share one layout: the optimizer steps params -= grad
    INDArray gradient = model.getGradientsViewArray();
    double scale = model.conf().isMiniBatch() ? mu * model.batchSize() : mu;
    scratch.assign(model.params()).subi(global).muli(scale);
    gradient.addi(scratch.reshape(gradient.shape()));
  }
}
