package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.kernel.JavaAveraging;
import dev.flops.api.Config;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A soak: 30 rounds while a chaos thread makes learners leave (stop), crash (their connection is
 * reset mid-whatever), hang (a fit past the round timeout) and rejoin, at random moments. Every
 * round either completes with at least {@code minFitLearners} accepted updates, or training fails
 * by the documented policy and is resumed from its checkpoint; nothing deadlocks (every wait has a
 * timeout, and so has the test); no thread or file descriptor leaks.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ChurnSoakTest {
  private static final long SEED = 5;
  private static final int ROUNDS = 30;
  private static final int LEARNERS = 6;
  private static final int MIN_FIT = 3;
  private static final int MIN_EVALUATE = 2;
  /**
   * Threads that may differ before and after without a leak: the JDK's common pool (at most
   * cores - 1 workers, which idle out after 60 s) and, for a second after their last user, gRPC's
   * shared event loop and timer threads.
   */
  private static final int THREAD_TOLERANCE = 4;
  /** Jar files opened for classes first loaded during the soak, epoll/pipe fds of event loops. */
  private static final int FD_TOLERANCE = 8;

  @TempDir
  Path dir;

  @Test
  void thirtyRoundsOfChurn_everyRoundMeetsItsMinimumOrFailsByPolicy_noLeaks() throws Exception {
    Parameters initial = Federations.randomParameters(61, false);
    warmUp(initial);
    Snapshot before = Snapshot.take();

    Path checkpoints = dir.resolve("checkpoints");
    int port = TestPorts.unusedPort();
    Churn churn = new Churn(initial);
    churn.connect(port);
    List<String> policyFailures = new ArrayList<>();
    TrainingResult result = null;
    try (LogCapture log = new LogCapture()) {
      churn.startAll();
      churn.start();
      for (int run = 0; result == null; run++) {
        assertTrue(run < 10, "too many restarts: " + policyFailures);
        TrainingPlan plan = TrainingPlan.builder().rounds(ROUNDS).minAvailableLearners(MIN_FIT)
            .minFitResults(MIN_FIT).minEvaluateResults(MIN_EVALUATE)
            .roundTimeout(Duration.ofMillis(1500)).checkpointDirectory(checkpoints).resume(run > 0)
            .learnerWait(Duration.ofSeconds(10)).build();
        FedAvg strategy = FedAvg.builder().minFitLearners(MIN_FIT).minEvaluateLearners(MIN_EVALUATE)
            .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
            .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
        try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(port)
            .model(new ArrayModel(initial))
            .averagingKernel(new JavaAveraging())
            .build().start()) {
          result = aggregator.train(plan, strategy);
        } catch (TrainingException e) {
          // The documented policy: retried attempts all fell short, or too few learners came.
          assertTrue(e.getMessage().contains("all 3 attempts fell short")
              || e.getMessage().contains("learners needed connected within"), e.getMessage());
          policyFailures.add(e.getMessage());
          churn.startAll(); // a failed training told the learners it reached to shut down
        }
      }
      churn.stopChaos();
      String logs = log.text();
      System.out.printf("soak: %d rounds, %d restarts by policy, %d retried phases, %d chaos "
              + "actions %s%n", result.rounds().size(), policyFailures.size(),
          count(logs, "the phase is retried"), churn.actions.values().stream()
              .mapToInt(Integer::intValue).sum(), churn.actions);
    } finally {
      churn.stopChaos();
      churn.close();
    }

    assertEquals(ROUNDS, result.rounds().size());
    int failedTasks = 0;
    for (int r = 0; r < ROUNDS; r++) {
      RoundSummary round = result.rounds().get(r);
      assertEquals(r + 1, round.round());
      assertTrue(round.fitSucceeded() >= MIN_FIT, round.toString());
      assertTrue(round.evaluateSucceeded() >= MIN_EVALUATE, round.toString());
      failedTasks += round.fitFailed() + round.evaluateFailed();
    }
    assertTrue(failedTasks > 0 || !policyFailures.isEmpty(), "the churn caused failures");
    assertTrue(churn.actions.keySet().containsAll(Set.of("leave", "crash", "hang", "rejoin")),
        "every kind of churn happened: " + churn.actions);
    for (Tensor tensor : result.finalParameters()) {
      for (float value : tensor.toFloatArray()) {
        assertTrue(Float.isFinite(value));
      }
    }

    Snapshot after = Snapshot.settle(before);
    System.out.printf("soak: threads %d before, %d after; file descriptors %d before, %d after%n",
        before.threads.size(), after.threads.size(), before.fds, after.fds);
    assertTrue(after.threads.size() <= before.threads.size() + THREAD_TOLERANCE,
        () -> "threads leaked: " + before.threads.size() + " before, " + after.threads.size()
            + " after; new: " + after.newThreads(before));
    assertTrue(after.fds <= before.fds + FD_TOLERANCE,
        "file descriptors leaked: " + before.fds + " before, " + after.fds + " after");
  }

  /** Loads every class and pool the soak uses, so that the baseline already holds them. */
  private void warmUp(Parameters initial) throws Exception {
    Churn churn = new Churn(initial);
    TrainingPlan plan = TrainingPlan.builder().rounds(1).minAvailableLearners(2)
        .checkpointDirectory(dir.resolve("warm-up")).build();
    FedAvg strategy = FedAvg.builder()
        .fitConfig(round -> Config.of(DeterministicTrainer.ROUND, round))
        .evaluateConfig(round -> Config.of(DeterministicTrainer.ROUND, round)).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).averagingKernel(new JavaAveraging())
        .build().start()) {
      churn.connect(aggregator.port());
      churn.startAll();
      churn.proxies.get(0).cut();
      aggregator.train(plan, strategy);
    } finally {
      churn.close();
    }
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /** The learners, each behind its own cuttable proxy, and the chaos thread that churns them. */
  private static final class Churn extends Thread implements AutoCloseable {
    final List<CuttableProxy> proxies = new ArrayList<>();
    final List<Learner> learners = new ArrayList<>();
    final List<CompletableFuture<Void>> runs = new ArrayList<>();
    final Set<String> hangNext = ConcurrentHashMap.newKeySet();
    final Map<String, Integer> actions = new TreeMap<>();
    private final Parameters initial;
    private volatile boolean stopped;

    Churn(Parameters initial) {
      super("chaos");
      setDaemon(true);
      this.initial = initial;
    }

    /** Makes the learners and their proxies to the aggregator on {@code port}. */
    void connect(int port) throws IOException {
      for (int i = 0; i < LEARNERS; i++) {
        proxies.add(new CuttableProxy(port));
        String name = "l" + i;
        DeterministicTrainer.Hooks hooks = new DeterministicTrainer.Hooks() {
          @Override
          public void beforeFit(String learner, int round) throws InterruptedException {
            if (hangNext.remove(learner)) {
              Thread.sleep(2500); // past the 1.5 s round timeout: a straggler
            } else {
              // A round's work: the chaos acts every 150-500 ms, and since this 61-value model
              // travels inline on the control stream, 30 rounds without work took under a second,
              // over before the churn began.
              Thread.sleep(150);
            }
          }
        };
        learners.add(Learner.builder()
            .aggregator("127.0.0.1", proxies.get(i).port())
            .name(name)
            .trainer(new DeterministicTrainer(name, initial, hooks))
            .backoff(Duration.ofMillis(50), Duration.ofMillis(400))
            .connectTimeout(Duration.ofSeconds(60))
            .seed(i)
            .build());
        runs.add(CompletableFuture.completedFuture(null));
      }
    }

    synchronized void startAll() {
      for (int i = 0; i < learners.size(); i++) {
        if (runs.get(i).isDone()) {
          runs.set(i, learners.get(i).runAsync());
        }
      }
    }

    @Override
    public void run() {
      Random random = new Random(SEED);
      while (!stopped) {
        try {
          Thread.sleep(150 + random.nextInt(350));
          act(random);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    private synchronized void act(Random random) {
      int i = random.nextInt(LEARNERS);
      boolean running = !runs.get(i).isDone();
      long alive = runs.stream().filter(r -> !r.isDone()).count();
      int dice = random.nextInt(10);
      String action;
      if (!running) {
        action = dice < 6 ? "rejoin" : "none";
        if (dice < 6) {
          runs.set(i, learners.get(i).runAsync());
        }
      } else if (dice < 2 && alive > 2) {
        action = "leave";
        learners.get(i).stop();
      } else if (dice < 5) {
        action = "crash";
        proxies.get(i).cut();
      } else if (dice < 7) {
        action = "hang";
        hangNext.add("l" + i);
      } else {
        action = "none";
      }
      actions.merge(action, 1, Integer::sum);
    }

    void stopChaos() throws InterruptedException {
      stopped = true;
      interrupt();
      join(10_000);
    }

    @Override
    public synchronized void close() {
      for (Learner learner : learners) {
        learner.stop();
      }
      for (CompletableFuture<Void> run : runs) {
        try {
          run.get(30, TimeUnit.SECONDS);
        } catch (Exception stopped) {
          // Stopped: that is the point.
        }
      }
      closeProxies();
    }

    private void closeProxies() {
      for (CuttableProxy proxy : proxies) {
        try {
          proxy.close();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }
      proxies.clear();
    }
  }

  /** Live threads (but the JDK's common pool) and open file descriptors of this JVM. */
  private record Snapshot(List<String> threads, long fds) {

    static Snapshot take() throws IOException {
      List<String> threads = Thread.getAllStackTraces().keySet().stream()
          .filter(Thread::isAlive)
          .map(Thread::getName)
          .filter(name -> !name.startsWith("ForkJoinPool.commonPool-worker"))
          .sorted()
          .collect(Collectors.toList());
      long fds;
      try (Stream<Path> open = Files.list(Path.of("/proc/self/fd"))) {
        fds = open.count();
      }
      return new Snapshot(threads, fds);
    }

    /** Waits up to 15 s for pools that release their threads after a delay. */
    static Snapshot settle(Snapshot before) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (true) {
        System.gc();
        Snapshot now = take();
        if ((now.threads.size() <= before.threads.size() && now.fds <= before.fds)
            || System.nanoTime() > deadline) {
          return now;
        }
        Thread.sleep(250);
      }
    }

    List<String> newThreads(Snapshot before) {
      List<String> extra = new ArrayList<>(threads);
      before.threads.forEach(extra::remove);
      return extra;
    }
  }
}
