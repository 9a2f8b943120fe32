package dev.flops.learner.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashSet;
import java.util.SplittableRandom;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BackoffTest {

  @Test
  void delaysDoubleUpToTheMaximum_withJitterInTheUpperHalf() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), new SplittableRandom(1));
    long[] bases = {100, 200, 400, 800, 1000, 1000, 1000};
    for (long base : bases) {
      long delay = backoff.next().toMillis();
      assertTrue(delay >= base / 2 && delay <= base, "delay " + delay + " for base " + base);
    }
  }

  @Test
  void jitterSpreadsLearnersApart() {
    Set<Long> firstDelays = new HashSet<>();
    for (int learner = 0; learner < 20; learner++) {
      firstDelays.add(new Backoff(Duration.ofMillis(1000), Duration.ofSeconds(10),
          new SplittableRandom(learner)).next().toMillis());
    }
    assertTrue(firstDelays.size() > 10, "20 learners got only " + firstDelays.size() + " delays");
  }

  @Test
  void resetStartsAgainFromTheInitialDelay() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), new SplittableRandom(2));
    for (int i = 0; i < 6; i++) {
      backoff.next();
    }
    backoff.reset();
    long delay = backoff.next().toMillis();
    assertTrue(delay >= 50 && delay <= 100, "delay after reset " + delay);
  }
}
