package dev.flops.examples.fashion;

import dev.flops.api.LocalTrainer;
import picocli.CommandLine.Option;

/**
 * Makes some of a local federation's learners malicious (a picocli mixin): the demo of robust
 * strategies over the wire. The attackers are the last {@code --attackers} learners.
 */
public final class AttackOptions {

  @Option(names = "--attackers", defaultValue = "0", paramLabel = "K",
      description = "How many learners (the last K) send attacked updates (default: "
          + "${DEFAULT-VALUE}); needs --attack.")
  int attackers;

  @Option(names = "--attack", paramLabel = "KIND:STRENGTH",
      description = "What the attackers send: sign-flip:SCALE = g - SCALE*(w - g) (the honest step "
          + "reversed and scaled) or noise:SIGMA = w + N(0, SIGMA^2).")
  String attack;

  /** Checks the two options against each other and the number of learners. */
  void validate(int learners) {
    if (attackers < 0 || attackers > learners) {
      throw new IllegalArgumentException(
          "--attackers must be in [0, --learners " + learners + "] but was " + attackers);
    }
    if (attackers > 0 && attack == null) {
      throw new IllegalArgumentException("--attackers " + attackers + " needs --attack "
          + Attack.FORMS + ", e.g. --attack sign-flip:5");
    }
    if (attack != null) {
      Attack.parse(attack);
      if (attackers == 0) {
        throw new IllegalArgumentException(
            "--attack " + attack + " needs --attackers K: how many learners attack");
      }
    }
  }

  /** Wraps learner {@code index}'s trainer if it is one of the attackers. */
  LocalTrainer trainer(LocalTrainer honest, int index, int learners, long seed) {
    if (index < learners - attackers) {
      return honest;
    }
    return new AttackingTrainer(honest, Attack.parse(attack), seed + index);
  }

  /** Describes the attack for the set-up log line; empty without one. */
  String describe() {
    return attackers == 0 ? "" : "; " + attackers + " attacker(s) sending " + attack;
  }
}
