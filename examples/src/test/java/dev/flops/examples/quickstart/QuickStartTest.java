package dev.flops.examples.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.TrainingResult;
import dev.flops.examples.fashion.FashionMnist;
import dev.flops.examples.fashion.Mlp;
import dev.flops.examples.fashion.Partitioning;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's embedding code, run as written: one aggregator and two learners on loopback. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class QuickStartTest {

  @Test
  void readmeCode_runsAFederation() throws Exception {
    FashionMnist data = FashionMnist.loader().limitTrain(2000).limitTest(400).load();
    Partitioning iid = Partitioning.parse("iid");
    int[][] train = iid.split(data.train().labels(), FashionMnist.NUM_CLASSES, 2, 1);
    int[][] test = iid.split(data.test().labels(), FashionMnist.NUM_CLASSES, 2, 1);

    CompletableFuture<Integer> port = new CompletableFuture<>();
    CompletableFuture<TrainingResult> result = CompletableFuture.supplyAsync(() -> {
      try {
        return QuickStart.runAggregator("127.0.0.1", 0, Mlp.create(7), 2, port::complete);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, r -> new Thread(r, "aggregator").start());
    List<Thread> learners = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      int index = i;
      Thread learner = new Thread(() -> {
        try {
          QuickStart.runLearner("127.0.0.1:" + port.get(), "site-" + index, Mlp.create(7),
              () -> data.train().toDataSet(train[index]),
              () -> data.test().toDataSet(test[index]));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      learner.start();
      learners.add(learner);
    }

    TrainingResult training = result.get(4, TimeUnit.MINUTES);
    for (Thread learner : learners) {
      learner.join(TimeUnit.SECONDS.toMillis(30));
      assertTrue(!learner.isAlive(), "learners return once the aggregator is done");
    }
    assertEquals(3, training.rounds().size());
    assertTrue(training.rounds().stream().allMatch(r -> r.fitSucceeded() == 2),
        training.rounds().toString());
    assertTrue(training.finalRound().accuracy() > 0.6,
        "accuracy " + training.finalRound().accuracy());
  }
}
