package dev.flops.aggregator;

import dev.flops.api.Parameters;
import dev.flops.learner.Learner;
import dev.flops.proto.codec.WireFrame;
import dev.flops.proto.v1.FederationGrpc;
import dev.flops.proto.v1.UploadMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A learner process for fault tests: a real {@link Learner} with a {@link DeterministicTrainer},
 * that prints {@code FIT_STARTED <round>} when a fit starts and, with
 * {@code --block-upload-round R}, forwards the header and the first chunk of its round-R upload,
 * prints {@code UPLOAD_STARTED R} and then blocks for good, so that a test kills it mid-upload.
 *
 * <p>Options: {@code --aggregator host:port --name N [--big true] [--fit-delay-ms MS]
 * [--block-upload-round R] [--keepalive-s S] [--keepalive-timeout-s S] [--connect-timeout-s S]}.
 */
public final class FaultLearnerMain {
  private FaultLearnerMain() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(args);
    String name = options.get("name");
    long fitDelay = Long.parseLong(options.getOrDefault("fit-delay-ms", "0"));
    long blockRound = Long.parseLong(options.getOrDefault("block-upload-round", "-1"));
    Parameters template =
        Federations.randomParameters(0, Boolean.parseBoolean(options.getOrDefault("big", "false")));
    DeterministicTrainer trainer = new DeterministicTrainer(name, template,
        new DeterministicTrainer.Hooks() {
          @Override
          public void beforeFit(String learner, int round) throws InterruptedException {
            say("FIT_STARTED " + round);
            Thread.sleep(fitDelay);
          }
        });
    Learner.Builder learner = Learner.builder()
        .aggregator(options.get("aggregator"))
        .name(name)
        .trainer(trainer)
        .backoff(Duration.ofMillis(100), Duration.ofSeconds(1))
        .connectTimeout(Duration.ofSeconds(
            Long.parseLong(options.getOrDefault("connect-timeout-s", "120"))))
        .keepAlive(Duration.ofSeconds(Long.parseLong(options.getOrDefault("keepalive-s", "30"))),
            Duration.ofSeconds(Long.parseLong(options.getOrDefault("keepalive-timeout-s", "10"))));
    if (blockRound > 0) {
      learner.interceptor(new BlockUpload(blockRound));
    }
    learner.build().run();
    say("LEARNER_DONE");
  }

  static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --option value pairs but got " + args[i]);
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    return options;
  }

  static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  /** Lets the header and the first chunk of one round's upload through, then blocks for good. */
  private static final class BlockUpload implements ClientInterceptor {
    private final long round;

    BlockUpload(long round) {
      this.round = round;
    }

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(
        MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
      ClientCall<Q, A> call = next.newCall(method, options);
      if (!method.getFullMethodName().equals(FederationGrpc.getUploadUpdateMethod()
          .getFullMethodName())) {
        return call;
      }
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        private int sent;

        @Override
        public void sendMessage(Q message) {
          // The learner sends its upload as frames (WireFrame), whose message is the header or
          // the chunk without its data.
          UploadMessage upload = message instanceof WireFrame<?> frame
              ? (UploadMessage) frame.message() : (UploadMessage) message;
          if (upload.getEnvelope().getRound() == round && sent == 2) {
            try {
              Thread.sleep(500); // lets the first chunk reach the aggregator
              say("UPLOAD_STARTED " + round);
              Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          }
          sent++;
          super.sendMessage(message);
        }
      };
    }
  }
}
