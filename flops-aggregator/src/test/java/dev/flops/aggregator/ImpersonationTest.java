package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.flops.api.Parameters;
import dev.flops.api.RoundSummary;
import dev.flops.api.Secret;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.learner.Learner;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.security.BearerToken;
import dev.flops.proto.v1.DownloadRequest;
import dev.flops.proto.v1.EvaluateResult;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.TaskFailure;
import dev.flops.proto.v1.UploadMessage;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 9 §0, played over real gRPC on loopback in every authentication mode: a learner that
 * joined legitimately reads its own task id ({@code r1-fit-N}) and learner id ({@code learner-K}),
 * guesses its neighbours' (they are sequential), and tries to download their parameters and to
 * upload zeros with a huge example count in their place, presenting no capability, its own task's
 * capability, or a random one; it also reports their tasks failed and sends forged evaluations
 * for them on its own control stream. Every transfer is refused with PERMISSION_DENIED, nothing it
 * sends touches another learner's task, and the round's model is exactly the honest learners'
 * weighted average, with their evaluations.
 *
 * <p>The attacker is an insider: where learners authenticate (tokens, certificates), it holds
 * valid credentials of its own, so only the binding of tasks to control streams stops it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ImpersonationTest {
  // Set by the helper that builds the aggregator, for the test's train(plan, strategy) calls.
  private TrainingPlan plan;
  private FedAvg strategy;

  /** How learners authenticate. */
  enum Mode { PLAINTEXT, SHARED_TOKEN, LEARNER_TOKENS, MUTUAL_TLS, MUTUAL_TLS_AND_LEARNER_TOKENS }

  private static final String ATTACKER = "mallory";
  private static final List<String> NAMES = List.of("h1", "h2", "real", ATTACKER);
  /** An example count that would outweigh every honest update (what the attack sent). */
  private static final long HUGE = 1L << 50;

  @TempDir
  static Path dir;
  static TestCertificates certificates;

  private final Parameters initial = Federations.randomParameters(11, false);
  private final Secret sharedToken = TokenTest.newToken();
  private final Map<String, Secret> learnerTokens = new LinkedHashMap<>();

  @BeforeAll
  static void makeCertificates() throws Exception {
    certificates = TestCertificates.make(dir.resolve("certificates"),
        NAMES.toArray(String[]::new));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void learnerGuessingItsNeighboursIds_isRefused_andTheHonestAverageCounts(Mode mode)
      throws Exception {
    NAMES.forEach(name -> learnerTokens.put(name, TokenTest.newToken()));
    ArrayModel copy = new ArrayModel(initial);
    try (Aggregator aggregator = aggregator(mode, copy);
        RawLearner h1 = RawLearner.join(channel(mode, aggregator, "h1"), "h1", 1f, 10);
        RawLearner h2 = RawLearner.join(channel(mode, aggregator, "h2"), "h2", 2f, 20);
        RawLearner attacker = RawLearner.join(channel(mode, aggregator, ATTACKER), ATTACKER,
            0f, 40)) {
      CompletableFuture<Void> real = Federations.startLearner("real", aggregator.port(),
          FakeTrainer.adding(initial, 4f, 30), b -> learnerSecurity(mode, "real", b));
      CompletableFuture<TrainingResult> training = CompletableFuture.supplyAsync(() -> {
        try {
          return aggregator.train(plan, strategy);
        } catch (InterruptedException e) {
          throw new CompletionException(e);
        }
      });
      RawLearner.Assigned fit1 = h1.nextTask();
      RawLearner.Assigned fit2 = h2.nextTask();
      RawLearner.Assigned own = attacker.nextTask();

      // The fit tasks of round 1 are r1-fit-1 to r1-fit-4; the learners learner-1 to learner-4.
      Parameters zeros = zeros(initial);
      List<String> refusals = new ArrayList<>();
      for (String taskId : neighbours(own.taskId())) {
        for (int learner = 1; learner <= NAMES.size(); learner++) {
          String learnerId = "learner-" + learner;
          for (ByteString capability : List.of(ByteString.EMPTY,
              own.task().getCapability(), randomCapability())) {
            Status download = attacker.downloadStatus(DownloadRequest.newBuilder()
                .setEnvelope(WireProtocol.envelope(own.round()))
                .setLearnerId(learnerId)
                .setTaskId(taskId)
                .setCapability(capability)
                .build());
            refusals.add(check(download, taskId));
            List<UploadMessage> upload = attacker.uploadMessages(own, zeros);
            upload.set(0, RawLearner.headerMessage(own.round(), upload.get(0).getHeader()
                .toBuilder().setLearnerId(learnerId).setTaskId(taskId).setCapability(capability)
                .setNumExamples(HUGE).build()));
            refusals.add(check(attacker.upload(upload), taskId));
          }
        }
        // On its own control stream: claiming a neighbour's task failed.
        attacker.send(LearnerMessage.newBuilder()
            .setEnvelope(WireProtocol.envelope(own.round()))
            .setTaskFailure(TaskFailure.newBuilder().setTaskId(taskId).setMessage("gave up"))
            .build());
      }
      assertEquals((NAMES.size() - 1) * NAMES.size() * 3 * 2, refusals.size());
      assertTrue(refusals.get(0).contains("belongs to another learner: this call does not carry "
          + "the capability the task came with on its learner's control stream"), refusals.get(0));
      assertTrue(refusals.get(0).contains("this call carries no capability at all"),
          refusals.get(0));
      // The attacker gives up its own task; the honest learners upload after the attack.
      attacker.send(LearnerMessage.newBuilder()
          .setEnvelope(WireProtocol.envelope(own.round()))
          .setTaskFailure(TaskFailure.newBuilder().setTaskId(own.taskId()).setMessage("done"))
          .build());
      h1.fitCorrectly(fit1);
      h2.fitCorrectly(fit2);

      // Evaluation: forged results for the neighbours' tasks, sent before their own.
      RawLearner.Assigned evaluate1 = h1.nextTask();
      RawLearner.Assigned evaluate2 = h2.nextTask();
      RawLearner.Assigned ownEvaluation = attacker.nextTask();
      for (String taskId : neighbours(ownEvaluation.taskId())) {
        attacker.send(LearnerMessage.newBuilder()
            .setEnvelope(WireProtocol.envelope(ownEvaluation.round()))
            .setEvaluateResult(EvaluateResult.newBuilder()
                .setTaskId(taskId).setLoss(1e6).setNumExamples(HUGE))
            .build());
      }
      attacker.evaluate(ownEvaluation);
      h1.evaluate(evaluate1);
      h2.evaluate(evaluate2);
      List.of(h1, h2, attacker).forEach(RawLearner::serveTheRest);

      TrainingResult result = training.get(60, TimeUnit.SECONDS);
      aggregator.shutdownLearners();
      real.get(10, TimeUnit.SECONDS);
      RoundSummary round = result.rounds().get(0);
      assertEquals(3, round.fitSucceeded(), round.toString());
      assertEquals(1, round.fitFailed(), round.toString());
      assertEquals(attacker.id(), round.failures().get(0).learnerId());
      assertEquals(4, round.evaluateSucceeded(), round.toString());
      assertEquals(1.0, round.loss(), 1e-9, "only the learners' own evaluations count");
      float honestMean = (1f * 10 + 2f * 20 + 4f * 30) / 60;
      AggregatorTest.assertClose(FakeTrainer.add(initial, honestMean), result.finalParameters(),
          1e-4);
    }
  }

  /**
   * The attacker's guesses: task ids are numbered in the order the aggregator hands tasks out, so
   * a round's four tasks of one kind hold four consecutive numbers; its own is one of them.
   */
  private static List<String> neighbours(String own) {
    int dash = own.lastIndexOf('-');
    String prefix = own.substring(0, dash + 1);
    int number = Integer.parseInt(own.substring(dash + 1));
    int first = number - (number - 1) % NAMES.size();
    List<String> guesses = new ArrayList<>();
    for (int n = first; n < first + NAMES.size(); n++) {
      if (n != number) {
        guesses.add(prefix + n);
      }
    }
    return guesses;
  }

  /**
   * Checks that a transfer was refused with PERMISSION_DENIED, code CAPABILITY, and returns the
   * description.
   */
  private static String check(Status status, String taskId) {
    assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), taskId + ": " + status);
    assertEquals(Optional.of(WireError.CAPABILITY), WireError.of(status.getCause()),
        taskId + ": " + status);
    return status.getDescription();
  }

  private static Parameters zeros(Parameters like) {
    List<Tensor> tensors = new ArrayList<>();
    for (Tensor tensor : like) {
      tensors.add(Tensor.ofFloats(tensor.name(), tensor.shape(),
          new float[tensor.toFloatArray().length]));
    }
    return new Parameters(tensors);
  }

  private static ByteString randomCapability() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }

  private Aggregator aggregator(Mode mode, ArrayModel copy) throws Exception {
    plan = TrainingPlan.builder().rounds(1).minAvailableLearners(NAMES.size())
        .roundTimeout(Duration.ofSeconds(30)).learnerWait(Duration.ofSeconds(30)).build();
    strategy = FedAvg.builder().build();
    Aggregator.Builder builder = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(copy);
    if (mode != Mode.PLAINTEXT) {
      builder.tls(certificates.aggregatorCertificate(), certificates.aggregatorKey());
    }
    switch (mode) {
      case SHARED_TOKEN -> builder.learnerToken(sharedToken);
      case LEARNER_TOKENS, MUTUAL_TLS_AND_LEARNER_TOKENS -> builder.learnerTokens(learnerTokens);
      default -> { }
    }
    if (mutualTls(mode)) {
      builder.requireClientCertificates(certificates.ca());
    }
    return builder.build().start();
  }

  private static boolean mutualTls(Mode mode) {
    return mode == Mode.MUTUAL_TLS || mode == Mode.MUTUAL_TLS_AND_LEARNER_TOKENS;
  }

  /** The token learner {@code name} presents in {@code mode}, or null. */
  private Secret token(Mode mode, String name) {
    return switch (mode) {
      case SHARED_TOKEN -> sharedToken;
      case LEARNER_TOKENS, MUTUAL_TLS_AND_LEARNER_TOKENS -> learnerTokens.get(name);
      default -> null;
    };
  }

  /** A channel with learner {@code name}'s own credentials in {@code mode}. */
  private ManagedChannel channel(Mode mode, Aggregator aggregator, String name) throws Exception {
    ChannelCredentials credentials = InsecureChannelCredentials.create();
    if (mode != Mode.PLAINTEXT) {
      TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder()
          .trustManager(certificates.ca().toFile());
      if (mutualTls(mode)) {
        tls.keyManager(certificates.certificate(name).toFile(), certificates.key(name).toFile());
      }
      credentials = tls.build();
    }
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress("127.0.0.1", aggregator.port(), credentials)
            .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES);
    Secret token = token(mode, name);
    if (token != null) {
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(BearerToken.headers(token)));
    }
    return builder.build();
  }

  /** The same credentials for a real {@code Learner}. */
  private Learner.Builder learnerSecurity(Mode mode, String name, Learner.Builder builder) {
    if (mode != Mode.PLAINTEXT) {
      builder.trustedCertificates(certificates.ca());
    }
    if (mutualTls(mode)) {
      builder.clientCertificate(certificates.certificate(name), certificates.key(name));
    }
    Secret token = token(mode, name);
    return token == null ? builder : builder.token(token);
  }
}
