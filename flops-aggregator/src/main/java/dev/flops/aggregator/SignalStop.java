package dev.flops.aggregator;

import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingStarted;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes an aggregator main's aggregator when the JVM is told to end (SIGTERM from
 * {@code kill} or an orchestrator, SIGINT from Ctrl-C), so that its learners hear at once that the
 * aggregator stopped (they exit with code 4) instead of retrying a vanished server, and logs one
 * line saying after which round it stopped. The JVM still exits with the signal's status (143 for
 * SIGTERM, 130 for SIGINT), which is non-zero.
 *
 * <pre>
 * SignalStop signals = new SignalStop();
 * try (Aggregator aggregator = builder.build().start();
 *     SignalStop armed = signals.arm(aggregator)) {
 *   aggregator.train(signals.observe(TrainingPlan.builder()).build(), strategy);
 * }
 * </pre>
 *
 * <p>The hook and the normal end may race: closing twice is harmless ({@link Aggregator#close()}
 * does nothing the second time), learners keep the first outcome they are told, and the hook
 * waits for the close at most {@link #DEFAULT_CLOSE_WAIT} so that it never holds the JVM up.
 * Thread rules: {@link #arm} and {@link #close} from the main's thread; the observer methods from
 * the aggregator's round loop; the hook from the JVM's shutdown.
 */
public final class SignalStop implements FederationObserver, AutoCloseable {
  /** How long the hook waits for the aggregator to close before letting the JVM end anyway. */
  public static final Duration DEFAULT_CLOSE_WAIT = Duration.ofSeconds(10);

  private static final Logger log = LoggerFactory.getLogger(SignalStop.class);

  private final Duration closeWait;
  private volatile int rounds;
  private volatile int lastRound;
  private volatile boolean fired;
  private Thread hook;

  /** Creates a signal stop that waits at most {@link #DEFAULT_CLOSE_WAIT} for the close. */
  public SignalStop() {
    this(DEFAULT_CLOSE_WAIT);
  }

  /**
   * Creates a signal stop.
   *
   * @param closeWait how long the hook waits for the aggregator to close; positive
   * @throws IllegalArgumentException if {@code closeWait} is zero or negative
   */
  public SignalStop(Duration closeWait) {
    if (closeWait == null || closeWait.isZero() || closeWait.isNegative()) {
      throw new IllegalArgumentException("closeWait must be positive but was " + closeWait);
    }
    this.closeWait = closeWait;
  }

  /**
   * Registers this as an observer of the training to plan, so that the stop line can name the
   * last finished round.
   *
   * @param builder the training plan's builder
   * @return the builder
   */
  public TrainingPlan.Builder observe(TrainingPlan.Builder builder) {
    return builder.observer(this);
  }

  /**
   * Installs the JVM shutdown hook that closes {@code aggregator}; {@link #close()} removes it.
   *
   * @param aggregator the started aggregator
   * @return this, to be closed when the aggregator's work ends normally
   * @throws IllegalStateException if already armed
   */
  public synchronized SignalStop arm(Aggregator aggregator) {
    if (hook != null) {
      throw new IllegalStateException("this SignalStop is already armed; create one per aggregator");
    }
    hook = new Thread(() -> stop(aggregator), "flops-signal-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    return this;
  }

  /**
   * Returns whether the hook ran, i.e. the JVM is ending because of a signal.
   *
   * @return true once the hook has started
   */
  public boolean fired() {
    return fired;
  }

  /** Removes the hook, unless the JVM is already shutting down (then the hook runs as planned). */
  @Override
  public synchronized void close() {
    if (hook == null) {
      return;
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // The hook is running or will run; it closes the aggregator itself.
    }
    hook = null;
  }

  @Override
  public void onTrainingStarted(TrainingStarted event) {
    rounds = event.rounds();
  }

  @Override
  public void onRoundFinished(RoundSummary summary) {
    lastRound = summary.round();
  }

  /** The hook's work; package-private for tests, which cannot send the JVM a signal. */
  void stop(Aggregator aggregator) {
    fired = true;
    int last = lastRound;
    String when = last == 0
        ? "before any round of this run finished"
        : "after round " + last + (rounds > 0 ? " of " + rounds : "");
    log.warn("aggregator stopped by a signal (SIGTERM or Ctrl-C) {}; telling the learners", when);
    // Closed on its own thread so that a close stuck behind the main thread's cannot hold the
    // JVM past closeWait.
    Thread closer = new Thread(
        () -> aggregator.closeBecause("it was stopped by a signal " + when), "flops-signal-close");
    closer.setDaemon(true);
    closer.start();
    try {
      closer.join(closeWait.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (closer.isAlive()) {
      log.warn("the aggregator did not close within {} s; the process ends anyway",
          closeWait.toSeconds());
    }
  }
}
