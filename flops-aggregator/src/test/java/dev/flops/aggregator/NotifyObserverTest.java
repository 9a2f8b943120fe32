package dev.flops.aggregator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flops.aggregator.tracking.EventLog;
import dev.flops.aggregator.tracking.NotifyObserver;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.Parameters;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.FedAvg;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The notify observer POSTs the lifecycle events to a real HTTP server (the JDK's, on loopback)
 * in order, with the event log's fields; an endpoint that answers 500, is down or is slow costs
 * retries and a log line but never fails or holds up training.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NotifyObserverTest {

  @TempDir
  Path temp;

  private HttpServer server;
  private final List<JsonObject> received = new CopyOnWriteArrayList<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final List<CountDownLatch> holds = new CopyOnWriteArrayList<>();

  /** Starts an endpoint that records every request and answers with {@code status}. */
  private URI endpoint(int status, CountDownLatch holdUntil) throws IOException {
    holds.add(holdUntil);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    // Handlers on their own threads: a held request must not keep stop() waiting.
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.createContext("/events", (HttpExchange exchange) -> {
      requests.incrementAndGet();
      try {
        holdUntil.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      if (status == 200) {
        assertEquals("POST", exchange.getRequestMethod());
        assertTrue(exchange.getRequestHeaders().getFirst("Content-Type")
            .startsWith("application/json"));
        received.add(JsonParser.parseString(body).getAsJsonObject());
      }
      exchange.sendResponseHeaders(status, -1);
      exchange.close();
    });
    server.start();
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events");
  }

  @AfterEach
  void stopServer() {
    holds.forEach(CountDownLatch::countDown);
    if (server != null) {
      server.stop(0);
    }
  }

  private static NotifyObserver.Builder fast(URI url) {
    return NotifyObserver.builder(url).federation("demo").timeout(Duration.ofSeconds(5))
        .retries(2).backoff(Duration.ofMillis(5), Duration.ofMillis(20));
  }

  /** Two rounds with one learner, the observer added; returns the result. */
  private TrainingResult train(NotifyObserver notify) throws Exception {
    Parameters initial = Federations.randomParameters(41, false);
    TrainingPlan plan = TrainingPlan.builder().rounds(2)
        .tracking(Tracking.fileStore(temp.resolve("mlruns"))).observer(notify).build();
    FedAvg strategy = FedAvg.builder().build();
    try (Aggregator aggregator = Aggregator.builder()
        .host("127.0.0.1").port(0)
        .model(new ArrayModel(initial))
        .build()
        .start()) {
      var learner = Federations.startLearner("one", aggregator.port(),
          FakeTrainer.adding(initial, 1f, 7));
      TrainingResult result = aggregator.train(plan, strategy);
      aggregator.shutdownLearners();
      learner.get(30, TimeUnit.SECONDS);
      return result;
    }
  }

  /** Trains (both rounds must succeed), closes the observer and returns what was logged. */
  private String trainClosingAndCapturingLogs(NotifyObserver notify) throws Exception {
    try (LogCapture capture = new LogCapture()) {
      try (notify) {
        assertEquals(2, train(notify).rounds().size());
      }
      return capture.text();
    }
  }

  @Test
  void events_arriveInOrder_withTheEventLogFieldsAndASequence() throws Exception {
    URI url = endpoint(200, new CountDownLatch(0));
    TrainingResult result;
    NotifyObserver notify = fast(url).build();
    try (notify) {
      result = train(notify);
    }
    assertEquals(List.of("training_started", "round_finished", "round_finished",
        "training_succeeded"), received.stream().map(e -> e.get("event").getAsString()).toList());
    for (int i = 0; i < received.size(); i++) {
      JsonObject event = received.get(i);
      assertEquals(i, event.get("sequence").getAsInt(), event.toString());
      assertEquals(EventLog.SCHEMA, event.get("schema").getAsString());
      assertEquals("demo", event.get("federation").getAsString());
    }
    assertEquals(2, received.get(0).get("rounds").getAsInt());
    JsonObject round2 = received.get(2);
    assertEquals(2, round2.get("round").getAsInt());
    assertEquals(result.rounds().get(1).accuracy(), round2.get("accuracy").getAsDouble());
    assertEquals(7, round2.get("evaluate_examples").getAsLong());
    JsonObject done = received.get(3);
    assertEquals(2, done.getAsJsonObject("final").get("round").getAsInt());
    assertEquals(result.best().orElseThrow().round(),
        done.getAsJsonObject("best").get("round").getAsInt());
    assertEquals(result.trackingInfo().orElseThrow().experimentId(),
        done.getAsJsonObject("tracking").get("experiment_id").getAsString());
    assertEquals(result.trackingInfo().orElseThrow().parentRunId(),
        done.getAsJsonObject("tracking").get("parent_run_id").getAsString());
    assertEquals(4, notify.delivered());
    assertEquals(0, notify.undelivered());
  }

  @Test
  void endpointAnswering500_costsEveryRetryAndALogLinePerEvent_trainingSucceeds()
      throws Exception {
    URI url = endpoint(500, new CountDownLatch(0));
    NotifyObserver notify = fast(url).build();
    String logs = trainClosingAndCapturingLogs(notify);
    assertEquals(4 * 3, requests.get(), "4 events, each tried once and retried twice");
    assertEquals(4, notify.undelivered());
    assertEquals(0, notify.delivered());
    assertTrue(logs.contains("could not deliver training_succeeded (HTTP 500); training goes on"),
        logs);
    assertTrue(logs.contains("could not deliver round_finished 2 (HTTP 500)"), logs);
  }

  @Test
  void endpointDown_trainingSucceeds_andTheLogSaysWhatWasNotDelivered() throws Exception {
    int closedPort = TestPorts.unusedPort();
    NotifyObserver notify =
        fast(URI.create("http://127.0.0.1:" + closedPort + "/events")).build();
    String logs = trainClosingAndCapturingLogs(notify);
    assertEquals(4, notify.undelivered());
    assertTrue(logs.contains("could not deliver training_started (java.net.ConnectException"),
        logs);
  }

  @Test
  void slowEndpoint_doesNotHoldUpTraining_closeSendsWhatWaited() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    URI url = endpoint(200, release);
    NotifyObserver notify = fast(url).build();
    try (notify) {
      train(notify);
      // Training ended while the endpoint still holds the first event.
      assertEquals(0, received.size());
      assertTrue(requests.get() <= 1, "one event at a time: " + requests.get());
      release.countDown();
    }
    assertEquals(4, received.size());
    assertEquals(4, notify.delivered());
  }

  @Test
  void closeTimeout_boundsTheWait_andCountsWhatWasNotSent() throws Exception {
    URI url = endpoint(200, new CountDownLatch(1)); // never released: every POST hangs
    NotifyObserver notify = fast(url).timeout(Duration.ofSeconds(20))
        .closeTimeout(Duration.ofMillis(300)).build();
    notify.onTrainingFailed(new IllegalStateException("one"));
    notify.onTrainingFailed(new IllegalStateException("two"));
    long start = System.nanoTime();
    try (LogCapture capture = new LogCapture()) {
      notify.close();
      assertTrue(capture.text().contains("1 event(s) still queued were not sent"), capture.text());
    }
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "close waited too long");
    assertEquals(2, notify.undelivered(), "the one queued and the one in flight");
  }

  @Test
  void build_startsNoThread_andBadSettingsAreNamed() {
    NotifyObserver notify = NotifyObserver.builder(URI.create("http://127.0.0.1:9/x")).build();
    assertFalse(Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals("flops-notify")), "a thread before the first event");
    notify.close();
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> NotifyObserver.builder(URI.create("ftp://host/x"))).getMessage()
        .contains("must be http://host[:port]/path or https://..., but was 'ftp://host/x'"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> NotifyObserver.builder(URI.create("/relative"))).getMessage().contains("'/relative'"));
    NotifyObserver.Builder builder = NotifyObserver.builder(URI.create("https://ops/x"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> builder.retries(-1))
        .getMessage().contains("retries must be from 0 to 100 but was -1"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> builder.backoff(Duration.ofSeconds(2), Duration.ofSeconds(1))).getMessage()
        .contains("below the initial backoff"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> builder.timeout(Duration.ZERO))
        .getMessage().contains("timeout must be positive"));
  }

  @Test
  void aggregatorMain_notifyUrl_deliversStartedAndFailed_beforeItReturns() throws Exception {
    URI url = endpoint(200, new CountDownLatch(0));
    StringWriter err = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setErr(new PrintWriter(err, true));
    int exit = commandLine.execute("--model-factory", AggregatorMainTest.SmallModelFactory.class.getName(),
        "--host", "127.0.0.1", "--port", "0", "--no-tracking", "--min-available", "1",
        "--learner-wait", "1", "--notify-url", url.toString());
    assertEquals(1, exit, err.toString());
    assertEquals(List.of("training_started", "training_failed"),
        received.stream().map(e -> e.get("event").getAsString()).toList());
    assertEquals("flops", received.get(0).get("federation").getAsString(),
        "the plain main names its federation flops");
  }

  @Test
  void aggregatorMain_badNotifyUrl_exitsNamingIt() {
    StringWriter err = new StringWriter();
    CommandLine commandLine = AggregatorMain.commandLine(new AggregatorMain());
    commandLine.setErr(new PrintWriter(err, true));
    int exit = commandLine.execute("--model-factory", AggregatorMainTest.SmallModelFactory.class.getName(),
        "--no-tracking", "--notify-url", "mailto:ops@example.org");
    assertEquals(2, exit);
    assertTrue(err.toString().contains("notify URL must be http://host[:port]/path"), err.toString());
    assertTrue(err.toString().contains("mailto:ops@example.org"), err.toString());
  }
}
