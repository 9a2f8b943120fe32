package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.Tensor;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.LearnerMessage;
import dev.flops.proto.v1.TaskFailure;
import dev.flops.proto.v1.TaskFailureCause;
import dev.flops.proto.v1.TaskKind;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A learner's report about one of its own tasks that has already ended (its TaskFailure after the
 * aggregator refused its upload, a result sent twice) is expected traffic: over real gRPC, the
 * aggregator logs no warning for it and blames no time-out; a report about a task that connection
 * was never given is still a warning. A late upload for the task is told how the task ended.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LateReportLogTest {

  @Test
  void reportsAboutTheLearnersOwnEndedTasks_noWarning_unknownTaskStillWarned() throws Exception {
    Parameters initial = Federations.randomParameters(91, false);
    Parameters otherShape = Parameters.of(initial.get("dense_W"),
        Tensor.ofFloats("dense_b", new long[] {19}, new float[19]));
    TrainingPlan plan = TrainingPlan.builder().rounds(2).minAvailableLearners(2)
        .minFitResults(1).minEvaluateResults(1).tracking(Tracking.off()).build();
    FedAvg strategy = FedAvg.builder().minFitLearners(1).minEvaluateLearners(1).build();
    try (LogCapture log = new LogCapture();
        Aggregator aggregator = Aggregator.builder().host("127.0.0.1").port(0)
            .model(new ArrayModel(initial))
            .build().start();
        RawLearner good = RawLearner.join(aggregator.port(), "good", 1f, 10);
        RawLearner bad = RawLearner.join(aggregator.port(), "lin-1", 1f, 10)) {
      CompletableFuture<TrainingResult> training =
          CompletableFuture.supplyAsync(() -> {
            try {
              return aggregator.train(plan, strategy);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });

      RawLearner.Assigned goodFit = good.nextTask();
      RawLearner.Assigned badFit = bad.nextTask();
      Status refused = bad.upload(bad.uploadMessages(badFit, otherShape));
      assertEquals(Status.Code.INVALID_ARGUMENT, refused.getCode(), refused.toString());
      good.fitCorrectly(goodFit);
      RawLearner.Assigned goodEvaluate = good.nextTask();
      RawLearner.Assigned badEvaluate = bad.nextTask();
      assertEquals(TaskKind.EVALUATE, badEvaluate.task().getKind());
      good.evaluate(goodEvaluate);
      bad.evaluate(badEvaluate);
      // Round 2's task proves round 1 is over and its tasks forgotten: now the learner's report
      // of its refused upload arrives, as it does from a real learner whose report crosses the end.
      RawLearner.Assigned badSecondFit = bad.nextTask();
      bad.send(failure(badFit, "the aggregator refused the upload: wrong shape"));
      bad.evaluate(badEvaluate); // the same result again, for a task that succeeded
      bad.send(failure(new RawLearner.Assigned(2, badSecondFit.task().toBuilder()
          .setTaskId("r2-fit-424242").build()), "a task this learner was never given"));
      // A late upload for the same task is refused with how the task really ended.
      Status late = bad.upload(bad.uploadMessages(badFit, otherShape));
      assertEquals(Status.Code.NOT_FOUND, late.getCode(), late.toString());
      assertEquals(WireError.UNKNOWN_TASK, WireError.of(late.getCause()).orElseThrow());
      assertTrue(late.getDescription().startsWith("no pending task '" + badFit.taskId()
          + "': it has ended: it failed: update rejected: "), late.getDescription());
      bad.fitCorrectly(badSecondFit);
      CompletableFuture<Void> goodRest = good.serveTheRest();
      CompletableFuture<Void> badRest = bad.serveTheRest();
      TrainingResult result = training.get(30, TimeUnit.SECONDS);
      aggregator.shutdownLearners();
      goodRest.get(10, TimeUnit.SECONDS);
      badRest.get(10, TimeUnit.SECONDS);

      assertEquals(2, result.rounds().size());
      String text = log.text();
      assertTrue(text.contains("FIT task " + badFit.taskId()) && text.contains("dense_b"),
          "the refusal itself is still logged: " + text);
      for (String line : text.split("\n")) {
        boolean aboutEnded = line.contains("'" + badFit.taskId() + "'")
            || line.contains("'" + badEvaluate.taskId() + "'");
        boolean lateUpload = line.contains("rejected an upload: no pending task");
        assertFalse(aboutEnded && !lateUpload && line.contains("WARN"),
            "a report about an ended task is no warning: " + line);
      }
      assertFalse(text.contains("timed out"), "nothing timed out: " + text);
      assertTrue(text.contains("WARN FederationService - ignored a message from learner "
              + bad.id() + " (lin-1): this connection was never given a task 'r2-fit-424242'"),
          "a task the learner never had is still a visible protocol violation: " + text);
    }
  }

  private static LearnerMessage failure(RawLearner.Assigned assigned, String message) {
    return LearnerMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(assigned.round()))
        .setTaskFailure(TaskFailure.newBuilder().setTaskId(assigned.taskId())
            .setMessage(message).setCause(TaskFailureCause.TRANSFER_REFUSED))
        .build();
  }
}
