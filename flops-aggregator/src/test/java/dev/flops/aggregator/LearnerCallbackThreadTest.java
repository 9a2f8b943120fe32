package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A learner's gRPC callbacks (control stream messages, upload flow control and receipts) run on
 * the transport's own thread, not handed to an executor thread first: each hand-off cost about a
 * millisecond of CPU per learner and round, most of a small model's round (issue 13,
 * benchmarks/README.md "Issue 13: the fixed per-round cost"). Real gRPC on loopback, a real
 * {@code Learner}; the training still ends with every round's fit and evaluation.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LearnerCallbackThreadTest {

  /** Records the names of the threads that deliver the learner's call callbacks. */
  private static final class CallbackThreads implements ClientInterceptor {
    final Set<String> names = ConcurrentHashMap.newKeySet();

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method,
        CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<A> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
              listener) {
            @Override
            public void onMessage(A message) {
              names.add(Thread.currentThread().getName());
              super.onMessage(message);
            }

            @Override
            public void onReady() {
              names.add(Thread.currentThread().getName());
              super.onReady();
            }
          }, headers);
        }
      };
    }
  }

  @Test
  void learnerCallbacks_runOnTheTransportThread_withoutAnExecutorHandOff() throws Exception {
    Parameters initial = Federations.randomParameters(13, false);
    CallbackThreads threads = new CallbackThreads();
    TrainingPlan plan = TrainingPlan.builder().rounds(2).build();
    try (Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
        .model(new ArrayModel(initial)).build().start()) {
      CompletableFuture<Void> learner = Federations.startLearner("direct", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 10), builder -> builder.interceptor(threads));
      TrainingResult result = aggregator.train(plan, FedAvg.builder().build());
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);

      assertEquals(2, result.rounds().size(), result.toString());
    }
    // Everything, the download's chunks included (decoded in onMessage), on netty's event loop.
    assertFalse(threads.names.isEmpty());
    assertTrue(threads.names.stream().noneMatch(name -> name.startsWith("grpc-default-executor")),
        threads.names.toString());
    assertTrue(threads.names.stream().anyMatch(name -> name.contains("worker-ELG")),
        threads.names.toString());
  }
}
