package dev.flops.aggregator.tracking;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundSummary;
import dev.flops.api.TrainingResult;
import dev.flops.api.TrainingStarted;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Objects;

/**
 * An observer that appends the federation's lifecycle events to a file as JSON lines, one object
 * per line, flushed as each event happens, so that another program can follow a federation (the
 * way a manager follows MQTT topics) with {@code tail -F}.
 *
 * <p>The schema is stable; version 1 is described in {@code docs/tracking.md}. Every line has
 * {@code "schema": "flops.events/1"}, {@code "event"} (one of {@code training_started}, {@code
 * round_finished}, {@code training_succeeded}, {@code training_failed}), {@code "time"} (ISO-8601
 * UTC) and {@code "federation"}. Numbers that are not finite (NaN: no evaluation) are written as
 * {@code null}. New fields may be added in version 1; none is removed or changes meaning.
 *
 * <pre>{@code
 * TrainingPlan.builder()
 *     .observer(EventLog.toFile(Path.of("events.jsonl"), "fashion-mnist"))
 * }</pre>
 */
public final class EventLog implements FederationObserver, AutoCloseable {

  /** The value of every line's {@code schema} field. */
  public static final String SCHEMA = "flops.events/1";

  private final Path file;
  private final BufferedWriter out;
  private final EventJson json;
  private final Gson gson = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private EventLog(Path file, String federation, Clock clock) throws IOException {
    this.file = file;
    this.json = new EventJson(federation, clock);
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
  }

  /**
   * Opens (creating, else appending to) an event log.
   *
   * @param file the JSON-lines file
   * @param federation the name written in every event's {@code federation} field
   * @return the observer, to add with {@code Aggregator.Builder.observer}
   * @throws IllegalArgumentException if the file cannot be opened for appending; the message
   *     names it
   */
  public static EventLog toFile(Path file, String federation) {
    return toFile(file, federation, Clock.systemUTC());
  }

  static EventLog toFile(Path file, String federation, Clock clock) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(federation, "federation");
    try {
      return new EventLog(file, federation, clock);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot open the event log " + file.toAbsolutePath()
          + " for appending: " + e + "; choose a writable file", e);
    }
  }

  /**
   * Returns the file events are appended to.
   *
   * @return the file
   */
  public Path file() {
    return file;
  }

  @Override
  public void onTrainingStarted(TrainingStarted event) {
    write(json.started(event));
  }

  @Override
  public void onRoundFinished(RoundSummary summary) {
    write(json.roundFinished(summary));
  }

  @Override
  public void onTrainingSucceeded(TrainingResult result) {
    write(json.succeeded(result));
  }

  @Override
  public void onTrainingFailed(Throwable cause) {
    write(json.failed(cause));
  }

  private synchronized void write(JsonObject line) {
    try {
      out.write(gson.toJson(line));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to the event log " + file, e);
    }
  }

  /** Closes the file; later events are not written. */
  @Override
  public synchronized void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close the event log " + file, e);
    }
  }
}
