package dev.flops.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The proximal term goes into the gradient before DL4J's updater transforms it: with plain SGD
 * the step the network takes is exactly {@code -lr · (g/B + μ·(w − w_g))}, where {@code g} is the
 * minibatch's summed gradient DL4J computed and {@code B} the minibatch size. Checked with
 * listeners on both sides of the proximal term in DL4J's own training loop (no fakes).
 */
class ProximalTermTest {

  private static final double LEARNING_RATE = 0.1;
  private static final double MU = 0.5;
  private static final int BATCH = 8;

  /** Records the gradient and parameters DL4J hands to listeners at onGradientCalculation. */
  private static final class Spy extends BaseTrainingListener {
    INDArray gradient;
    INDArray parameters;

    @Override
    public void onGradientCalculation(Model model) {
      gradient = model.getGradientsViewArray().dup();
      parameters = model.params().dup();
    }
  }

  @Test
  void theUpdaterSteps_withTheGradientPlusMuTimesTheDistanceToTheGlobal() {
    MultiLayerNetwork net =
        Dl4jModelTest.smallNetwork(3, DataType.DOUBLE, new Sgd(LEARNING_RATE));
    // a global model away from the current parameters, so the term is not zero on step 1
    INDArray global = net.params().dup().addi(Nd4j.rand(DataType.DOUBLE, net.params().shape()));
    Spy before = new Spy();
    Spy after = new Spy();
    net.setListeners(List.of(before, new ProximalTerm(MU, global), after));
    DataSet data = new DataSet(Nd4j.rand(DataType.DOUBLE, BATCH, 4),
        Nd4j.eye(2).castTo(DataType.DOUBLE).repeat(0, BATCH / 2));

    net.fit(data);

    INDArray term = before.parameters.sub(global).muli(MU);
    INDArray meanGradient = before.gradient.div(BATCH);
    assertClose(meanGradient.add(term), after.gradient.div(BATCH),
        "the gradient after the term, per example");
    assertClose(before.parameters.sub(meanGradient.add(term).muli(LEARNING_RATE)), net.params(),
        "SGD's step: w - lr * (mean gradient + mu (w - w_g))");
    assertTrue(term.norm2Number().doubleValue() > 0.1, "the term is not negligible");
  }

  private static void assertClose(INDArray expected, INDArray actual, String what) {
    assertEquals(expected.length(), actual.length(), what);
    INDArray flatExpected = expected.reshape(expected.length());
    INDArray flatActual = actual.reshape(actual.length());
    for (long i = 0; i < expected.length(); i++) {
      assertEquals(flatExpected.getDouble(i), flatActual.getDouble(i), 1e-12,
          what + " [" + i + "]");
    }
  }
}
