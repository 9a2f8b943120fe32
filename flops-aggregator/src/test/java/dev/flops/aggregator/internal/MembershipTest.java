package dev.flops.aggregator.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flops.proto.v1.AggregatorMessage;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * {@link Membership#join}'s count of connected learners is taken at admission, so the join lines
 * logged from it count 1, 2, 3 in the order learners were admitted. The outbound streams are
 * no-op observers: Membership only sends the Welcome through them, and the gRPC side of joining
 * is covered by the federation tests.
 */
class MembershipTest {

  private static final StreamObserver<AggregatorMessage> DISCARD = new StreamObserver<>() {
    @Override
    public void onNext(AggregatorMessage value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  };

  private static Membership.Joined join(Membership members, String name, String key) {
    return members.join(name, key, new Caller(null, null), DISCARD, 0, 1000, 0);
  }

  @Test
  void joined_countsTheLearnersConnectedAtAdmission() {
    Membership members = new Membership();
    assertEquals(1, join(members, "a", "key-a").connected());
    assertEquals(2, join(members, "b", "key-b").connected());
    // A learner that pings more often than permitted is not admitted: the count stays.
    assertEquals(2, members.join("c", "key-c", new Caller(null, null), DISCARD, 10, 1000, 0)
        .connected());
    // A reconnection replaces its previous session: still two.
    assertEquals(2, join(members, "a", "key-a").connected());
  }

  @Test
  void concurrentJoins_eachGetsItsOwnCount() throws Exception {
    int learners = 16;
    Membership members = new Membership();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(learners);
    try {
      List<Future<Integer>> counts = new ArrayList<>();
      for (int i = 0; i < learners; i++) {
        String name = "learner-" + i;
        counts.add(pool.submit(() -> {
          start.await();
          return join(members, name, name).connected();
        }));
      }
      start.countDown();
      Set<Integer> seen = new TreeSet<>();
      for (Future<Integer> count : counts) {
        seen.add(count.get());
      }
      // Read after the lock, two joins could both see the later count.
      Set<Integer> expected = new TreeSet<>();
      for (int i = 1; i <= learners; i++) {
        expected.add(i);
      }
      assertEquals(expected, seen);
    } finally {
      pool.shutdownNow();
    }
  }
}
