package dev.flops.examples.fashion;

import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A malicious learner's edit of its honest update, for tests and demos of robust aggregation
 * over the wire (the Fashion learner main's {@code --attack}):
 * <ul>
 *   <li>{@code sign-flip:SCALE}: sends {@code g - SCALE * (w - g)}, the honest step {@code w - g}
 *       from the global parameters {@code g} reversed and scaled (SCALE > 0; e.g. 5);
 *   <li>{@code noise:SIGMA}: sends {@code w + N(0, SIGMA^2)} element-wise (SIGMA > 0).
 * </ul>
 *
 * @param kind {@code sign-flip} or {@code noise}
 * @param strength SCALE or SIGMA, positive and finite
 */
record Attack(String kind, double strength) {

  static final String FORMS = "sign-flip:SCALE or noise:SIGMA";

  Attack {
    if (!kind.equals("sign-flip") && !kind.equals("noise")) {
      throw new IllegalArgumentException(
          "--attack must be " + FORMS + " but the kind was '" + kind + "'");
    }
    if (!(strength > 0) || !Double.isFinite(strength)) {
      throw new IllegalArgumentException(
          "--attack " + kind + " needs a positive, finite strength but was " + strength);
    }
  }

  /**
   * Parses {@code sign-flip:5} or {@code noise:0.1}.
   *
   * @throws IllegalArgumentException naming the accepted forms
   */
  static Attack parse(String text) {
    int colon = text.indexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("--attack must be " + FORMS + " but was '" + text + "'");
    }
    double strength;
    try {
      strength = Double.parseDouble(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "--attack must be " + FORMS + " with a number after ':' but was '" + text + "'", e);
    }
    return new Attack(text.substring(0, colon).trim().toLowerCase(Locale.ROOT), strength);
  }

  /**
   * Turns an honest update into the attacker's.
   *
   * @param global the global parameters the learner started from
   * @param honest the honestly trained parameters
   * @param random the noise's generator (used by {@code noise} only)
   * @return the parameters to send, float32 with the same structure
   */
  Parameters apply(Parameters global, Parameters honest, SplittableRandom random) {
    List<Tensor> sent = new ArrayList<>(honest.size());
    for (Tensor tensor : honest) {
      float[] w = tensor.toFloatArray();
      float[] g = global.get(tensor.name()).toFloatArray();
      for (int i = 0; i < w.length; i++) {
        w[i] = kind.equals("sign-flip")
            ? (float) (g[i] - strength * ((double) w[i] - g[i]))
            : (float) (w[i] + strength * gaussian(random));
      }
      sent.add(Tensor.ofFloats(tensor.name(), tensor.shape(), w));
    }
    return new Parameters(sent);
  }

  private static double gaussian(SplittableRandom random) {
    // Box-Muller: SplittableRandom has no nextGaussian in Java 17.
    double u = 1.0 - random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
  }

  @Override
  public String toString() {
    return kind + ":" + strength;
  }
}
