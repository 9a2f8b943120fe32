package dev.flops.aggregator.tracking;

import dev.flops.proto.codec.Durations;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Where and how the aggregator tracks a training in MLflow: an experiment per federation, a parent
 * run for the training, a nested run per round, the best model as an artifact. Learners never
 * talk to MLflow.
 *
 * <ul>
 *   <li>{@link #fileStore(Path)}: MLflow's file store layout in a local directory ({@code
 *       ./mlruns} by default), which {@code mlflow ui --backend-store-uri ./mlruns} shows.
 *   <li>{@link #server(String)}: a tracking server's REST API ({@code http://host:port}), with
 *       the credentials of {@code MLFLOW_TRACKING_USERNAME}/{@code MLFLOW_TRACKING_PASSWORD},
 *       {@code MLFLOW_TRACKING_TOKEN} or the URI on every request.
 *   <li>{@link #off()}: no tracking.
 * </ul>
 *
 * <p>{@link #defaults()} is what MLflow users expect: the {@value #TRACKING_URI_ENV} environment
 * variable if set, else {@code ./mlruns}. Values are immutable; every {@code with}-style method
 * returns a copy.
 *
 * <pre>{@code
 * TrainingPlan.builder()
 *     .rounds(5)
 *     .tracking(Tracking.uri("http://mlflow.example:5000").experimentName("fashion-mnist"))
 *     ...
 * }</pre>
 *
 * <p>A tracking server that fails or cannot be reached never stops training: calls are retried
 * with exponential backoff in the background, a warning is logged once, and what could not be sent
 * within {@link #flushTimeout(Duration)} after the last round is reported (log and
 * {@code TrainingResult.tracking().unsent()}).
 */
public final class Tracking {

  /** The environment variable MLflow reads its tracking URI from. */
  public static final String TRACKING_URI_ENV = "MLFLOW_TRACKING_URI";
  /** The file store directory used when nothing else is configured, relative to the working directory. */
  public static final String DEFAULT_DIRECTORY = "mlruns";
  /** How long the end of training waits for pending tracking calls by default. */
  public static final Duration DEFAULT_FLUSH_TIMEOUT = Duration.ofSeconds(30);
  /**
   * Where tracking calls that could not be delivered wait by default, relative to the working
   * directory.
   */
  public static final String DEFAULT_OUTBOX = "flops-tracking-outbox";
  /** How often system metrics are sampled by default: MLflow's own default. */
  public static final Duration DEFAULT_SYSTEM_METRICS_INTERVAL = Duration.ofSeconds(10);

  /** The kind of backend. */
  public enum Backend {
    /** Tracking is disabled. */
    OFF,
    /** MLflow's file store in a local directory. */
    FILE_STORE,
    /** A tracking server over REST. */
    SERVER
  }

  private static final Tracking OFF = new Tracking(Backend.OFF, null, null, null,
      DEFAULT_FLUSH_TIMEOUT, Duration.ofMillis(200), Duration.ofSeconds(5), null, null, Map.of(),
      Path.of(DEFAULT_OUTBOX).toAbsolutePath().normalize(), DEFAULT_SYSTEM_METRICS_INTERVAL);

  private final Backend backend;
  private final Path directory;
  private final URI server;
  private final String experimentName;
  private final Duration flushTimeout;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final String resumeExperimentId;
  private final String resumeParentRunId;
  private final Map<Integer, String> resumeRoundRunIds;
  private final Path outbox;
  private final Duration systemMetricsInterval;

  private Tracking(Backend backend, Path directory, URI server, String experimentName,
      Duration flushTimeout, Duration initialBackoff, Duration maxBackoff,
      String resumeExperimentId, String resumeParentRunId, Map<Integer, String> resumeRoundRunIds,
      Path outbox, Duration systemMetricsInterval) {
    this.outbox = outbox;
    this.systemMetricsInterval = systemMetricsInterval;
    this.backend = backend;
    this.directory = directory;
    this.server = server;
    this.experimentName = experimentName;
    this.flushTimeout = flushTimeout;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.resumeExperimentId = resumeExperimentId;
    this.resumeParentRunId = resumeParentRunId;
    this.resumeRoundRunIds = Map.copyOf(resumeRoundRunIds);
  }

  /**
   * Returns the default: the URI in the {@value #TRACKING_URI_ENV} environment variable if it is
   * set and not blank, else the file store {@code ./mlruns}.
   *
   * @return the default tracking
   * @throws IllegalArgumentException if the environment variable holds an invalid or unsupported
   *     URI; the message names the variable and the value
   */
  public static Tracking defaults() {
    return fromEnvironment(System.getenv());
  }

  /**
   * Returns the default for a given environment (see {@link #defaults()}).
   *
   * @param environment environment variables
   * @return the tracking the environment selects
   * @throws IllegalArgumentException if {@value #TRACKING_URI_ENV} holds an invalid URI
   */
  public static Tracking fromEnvironment(Map<String, String> environment) {
    String uri = environment.get(TRACKING_URI_ENV);
    if (uri == null || uri.isBlank()) {
      return fileStore(Path.of(DEFAULT_DIRECTORY));
    }
    try {
      return uri(uri);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "the environment variable " + TRACKING_URI_ENV + " is invalid: " + e.getMessage(), e);
    }
  }

  /**
   * Tracks into MLflow's file store in a local directory, created if missing.
   *
   * @param directory the store's root, e.g. {@code Path.of("mlruns")}
   * @return the tracking
   */
  public static Tracking fileStore(Path directory) {
    Objects.requireNonNull(directory, "directory");
    return new Tracking(Backend.FILE_STORE, directory.toAbsolutePath().normalize(), null, null,
        OFF.flushTimeout, OFF.initialBackoff, OFF.maxBackoff, null, null, Map.of(), OFF.outbox,
        OFF.systemMetricsInterval);
  }

  /**
   * Tracks to an MLflow tracking server.
   *
   * @param uri {@code http://host:port} or {@code https://host[:port][/path]}
   * @return the tracking
   * @throws IllegalArgumentException if the URI is not an http(s) URI with a host
   */
  public static Tracking server(String uri) {
    URI parsed = parse(uri);
    String scheme = parsed.getScheme() == null ? "" : parsed.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("a tracking server URI must be http://host:port or "
          + "https://host[:port] but was '" + printable(uri) + "'");
    }
    if (parsed.getHost() == null || parsed.getHost().isBlank()) {
      throw new IllegalArgumentException("the tracking server URI '" + printable(uri) + "' has no host; "
          + "write it as http://host:port, e.g. http://127.0.0.1:5000");
    }
    String text = parsed.toString();
    URI normalized = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
    return new Tracking(Backend.SERVER, null, normalized, null, OFF.flushTimeout,
        OFF.initialBackoff, OFF.maxBackoff, null, null, Map.of(), OFF.outbox,
        OFF.systemMetricsInterval);
  }

  /**
   * Chooses the backend from a tracking URI, the way MLflow does: {@code http(s)://...} is a
   * tracking server, {@code file:///path} or a plain path is the file store.
   *
   * @param uri the tracking URI
   * @return the tracking
   * @throws IllegalArgumentException if the URI is blank, malformed or of a scheme flops does not
   *     support (e.g. {@code sqlite:} or {@code databricks}); the message says what to use instead
   */
  public static Tracking uri(String uri) {
    Objects.requireNonNull(uri, "uri");
    if (uri.isBlank()) {
      throw new IllegalArgumentException("the tracking URI is blank; use http://host:port, "
          + "file:///path, a directory path, or turn tracking off");
    }
    String lower = uri.trim().toLowerCase(Locale.ROOT);
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return server(uri.trim());
    }
    if (lower.startsWith("file:")) {
      URI parsed = parse(uri.trim());
      if (parsed.getAuthority() != null && !parsed.getAuthority().isEmpty()
          && !parsed.getAuthority().equals("localhost")) {
        throw new IllegalArgumentException("the file tracking URI '" + printable(uri) + "' names host '"
            + parsed.getAuthority() + "'; use file:///absolute/path or a plain path");
      }
      try {
        return fileStore(Path.of(parsed.getPath()));
      } catch (InvalidPathException e) {
        throw new IllegalArgumentException("the file tracking URI '" + printable(uri) + "' is not a path: "
            + e.getMessage(), e);
      }
    }
    int colon = uri.indexOf(':');
    if (colon > 1 && uri.substring(0, colon).matches("[A-Za-z][A-Za-z0-9+.-]*")) {
      String scheme = uri.substring(0, colon);
      throw new IllegalArgumentException("unsupported tracking URI scheme '" + scheme + "' in '"
          + printable(uri) + "': flops writes MLflow's file store (a directory or file:///path) or talks to "
          + "a tracking server (http://host:port); for a database backend run `mlflow server "
          + "--backend-store-uri " + printable(uri) + "` and point flops at that server");
    }
    try {
      return fileStore(Path.of(uri));
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException("the tracking URI '" + printable(uri) + "' is not a valid path: "
          + e.getMessage(), e);
    }
  }

  /**
   * Turns tracking off.
   *
   * @return tracking that records nothing
   */
  public static Tracking off() {
    return OFF;
  }

  /** A URI as it may appear in a message: any {@code user:password@} replaced by {@code ***@}. */
  private static String printable(String uri) {
    return uri.replaceAll("(?i)([a-z][a-z0-9+.-]*://)[^/@\\s]*@", "$1***@");
  }

  private static URI parse(String uri) {
    Objects.requireNonNull(uri, "uri");
    try {
      return new URI(uri);
    } catch (URISyntaxException e) {
      // Not chained: URISyntaxException's message repeats the URI, credentials and all.
      throw new IllegalArgumentException("the tracking URI '" + printable(uri) + "' is malformed: "
          + e.getReason() + (e.getIndex() < 0 ? "" : " at index " + e.getIndex()));
    }
  }

  /**
   * Names the experiment (default: derived from the model, {@code flops-<model>}). The experiment
   * is created if it does not exist, and reused if it does.
   *
   * @param name a non-blank name of at most 500 characters
   * @return a copy with this experiment name
   * @throws IllegalArgumentException if the name is blank or too long
   */
  public Tracking experimentName(String name) {
    Objects.requireNonNull(name, "experimentName");
    if (name.isBlank() || name.length() > 500) {
      throw new IllegalArgumentException(
          "experimentName must be 1 to 500 characters and not blank but was '" + name + "'");
    }
    return new Tracking(backend, directory, server, name, flushTimeout, initialBackoff, maxBackoff,
        resumeExperimentId, resumeParentRunId, resumeRoundRunIds, outbox, systemMetricsInterval);
  }

  /**
   * Sets how long the end of training waits for tracking calls still pending (default 30 s), e.g.
   * while a tracking server is down. What is still unsent then is reported.
   *
   * @param timeout zero or positive
   * @return a copy with this timeout
   * @throws IllegalArgumentException if the timeout is negative
   */
  public Tracking flushTimeout(Duration timeout) {
    Objects.requireNonNull(timeout, "flushTimeout");
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("flushTimeout must not be negative but was "
          + Durations.forPeople(timeout));
    }
    return new Tracking(backend, directory, server, experimentName, timeout, initialBackoff,
        maxBackoff, resumeExperimentId, resumeParentRunId, resumeRoundRunIds, outbox,
        systemMetricsInterval);
  }

  /**
   * Sets the backoff between retries of a failing tracking call (default 200 ms doubling up to
   * 5 s).
   *
   * @param initial the first delay, positive
   * @param max the largest delay, at least {@code initial}
   * @return a copy with this backoff
   * @throws IllegalArgumentException if a delay is not positive or {@code max < initial}
   */
  public Tracking retryBackoff(Duration initial, Duration max) {
    Objects.requireNonNull(initial, "initial");
    Objects.requireNonNull(max, "max");
    if (initial.isZero() || initial.isNegative() || max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("retryBackoff needs 0 < initial <= max but was initial="
          + Durations.forPeople(initial) + ", max=" + Durations.forPeople(max));
    }
    return new Tracking(backend, directory, server, experimentName, flushTimeout, initial, max,
        resumeExperimentId, resumeParentRunId, resumeRoundRunIds, outbox, systemMetricsInterval);
  }

  /**
   * Continues an existing parent run instead of creating one, e.g. when training resumes from a
   * checkpoint: the parent run is set back to RUNNING, later rounds become its nested runs, and its
   * metrics continue at their rounds' steps.
   *
   * @param experimentId the experiment id recorded by the interrupted training
   * @param parentRunId its parent run id
   * @return a copy that resumes these runs
   * @throws IllegalArgumentException if an id is blank
   */
  public Tracking resume(String experimentId, String parentRunId) {
    return resume(experimentId, parentRunId, Map.of());
  }

  /**
   * Continues an existing parent run (see {@link #resume(String, String)}) and knows the runs of
   * the rounds already tracked, so that the best model can be logged into the best round's run
   * even when that round ran before the resume.
   *
   * @param experimentId the experiment id recorded by the interrupted training
   * @param parentRunId its parent run id
   * @param roundRunIds run id of each round already tracked, by round number
   * @return a copy that resumes these runs
   * @throws IllegalArgumentException if an id is blank or a round number is below 1
   */
  public Tracking resume(String experimentId, String parentRunId, Map<Integer, String> roundRunIds) {
    Objects.requireNonNull(experimentId, "experimentId");
    Objects.requireNonNull(parentRunId, "parentRunId");
    Objects.requireNonNull(roundRunIds, "roundRunIds");
    if (experimentId.isBlank() || parentRunId.isBlank()) {
      throw new IllegalArgumentException("resume needs an experiment id and a parent run id but "
          + "got experimentId='" + experimentId + "', parentRunId='" + parentRunId + "'");
    }
    roundRunIds.forEach((round, id) -> {
      if (round == null || round < 1 || id == null || id.isBlank()) {
        throw new IllegalArgumentException("resume round run ids need rounds >= 1 and non-blank "
            + "ids but got " + round + "=" + id);
      }
    });
    return new Tracking(backend, directory, server, experimentName, flushTimeout, initialBackoff,
        maxBackoff, experimentId, parentRunId, new TreeMap<>(roundRunIds), outbox,
        systemMetricsInterval);
  }

  /**
   * Sets the directory where tracking calls that could not be delivered wait (default {@value
   * #DEFAULT_OUTBOX} in the working directory). When the backend is still failing at the end of
   * training (after {@link #flushTimeout(Duration)}), the calls not yet delivered, the runs' final
   * statuses included, are written there (forced to disk) instead of being lost; the next
   * aggregator tracking to the same URI delivers them first, in order, and {@code
   * AggregatorMain flush-tracking} (or {@link TrackingOutbox#flush}) delivers them at once.
   *
   * @param directory the outbox directory, created when first needed
   * @return a copy with this outbox
   */
  public Tracking outbox(Path directory) {
    Objects.requireNonNull(directory, "outbox");
    return new Tracking(backend, this.directory, server, experimentName, flushTimeout,
        initialBackoff, maxBackoff, resumeExperimentId, resumeParentRunId, resumeRoundRunIds,
        directory.toAbsolutePath().normalize(), systemMetricsInterval);
  }

  /**
   * Sets how often the machine's system metrics ({@code system/cpu_utilization_percentage},
   * {@code system/system_memory_usage_megabytes}, ... as MLflow names them) are sampled into the
   * parent run, with step = the sample's index; default 10 s, as MLflow.
   *
   * @param interval at least 100 ms, or zero to sample none
   * @return a copy with this interval
   * @throws IllegalArgumentException if the interval is negative or between 0 and 100 ms
   */
  public Tracking systemMetricsInterval(Duration interval) {
    Objects.requireNonNull(interval, "systemMetricsInterval");
    if (interval.isNegative() || !interval.isZero() && interval.toMillis() < 100) {
      throw new IllegalArgumentException("systemMetricsInterval must be zero (off) or at least "
          + "100 ms but was " + Durations.forPeople(interval));
    }
    return new Tracking(backend, directory, server, experimentName, flushTimeout, initialBackoff,
        maxBackoff, resumeExperimentId, resumeParentRunId, resumeRoundRunIds, outbox, interval);
  }

  /**
   * Returns the outbox directory.
   *
   * @return the absolute directory where undelivered calls wait
   */
  public Path outbox() {
    return outbox;
  }

  /**
   * Returns how often system metrics are sampled.
   *
   * @return the interval; zero when off
   */
  public Duration systemMetricsInterval() {
    return systemMetricsInterval;
  }

  /**
   * Returns the tracking server's URI as configured, credentials included if the URI had any.
   * Never log it: {@link #trackingUri()} is the printable form.
   *
   * @return the server URI, or empty unless the backend is a server
   */
  public Optional<URI> serverUri() {
    return Optional.ofNullable(server);
  }

  /**
   * Returns the backend.
   *
   * @return OFF, FILE_STORE or SERVER
   */
  public Backend backend() {
    return backend;
  }

  /**
   * Tells whether anything is tracked.
   *
   * @return false for {@link #off()}
   */
  public boolean enabled() {
    return backend != Backend.OFF;
  }

  /**
   * Returns the file store's root directory.
   *
   * @return the absolute directory, or empty unless the backend is the file store
   */
  public Optional<Path> directory() {
    return Optional.ofNullable(directory);
  }

  /**
   * Returns the tracking URI in MLflow's form.
   *
   * @return {@code file:///...} for the file store, the server URI, or {@code off}
   */
  public String trackingUri() {
    return switch (backend) {
      case OFF -> "off";
      case FILE_STORE -> directory.toUri().toString();
      // Credentials in the URI (http://user:password@host) are never printed.
      case SERVER -> server.getRawUserInfo() == null ? server.toString()
          : server.toString().replace(server.getRawUserInfo() + "@", "***@");
    };
  }

  /**
   * Returns the experiment name.
   *
   * @return the name, or empty to derive it from the model
   */
  public Optional<String> experimentName() {
    return Optional.ofNullable(experimentName);
  }

  /**
   * Returns how long the end of training waits for pending tracking calls.
   *
   * @return the flush timeout
   */
  public Duration flushTimeout() {
    return flushTimeout;
  }

  /**
   * Returns the first retry delay.
   *
   * @return the initial backoff
   */
  public Duration initialBackoff() {
    return initialBackoff;
  }

  /**
   * Returns the largest retry delay.
   *
   * @return the maximum backoff
   */
  public Duration maxBackoff() {
    return maxBackoff;
  }

  /**
   * Returns the experiment id to resume.
   *
   * @return the id, or empty for a new parent run
   */
  public Optional<String> resumeExperimentId() {
    return Optional.ofNullable(resumeExperimentId);
  }

  /**
   * Returns the parent run id to resume.
   *
   * @return the id, or empty for a new parent run
   */
  public Optional<String> resumeParentRunId() {
    return Optional.ofNullable(resumeParentRunId);
  }

  /**
   * Returns the runs of rounds tracked before a resume.
   *
   * @return run ids by round number; empty unless resuming
   */
  public Map<Integer, String> resumeRoundRunIds() {
    return resumeRoundRunIds;
  }

  @Override
  public String toString() {
    return "Tracking[" + trackingUri()
        + (experimentName == null ? "" : ", experiment=" + experimentName)
        + (resumeParentRunId == null ? "" : ", resume=" + resumeParentRunId) + "]";
  }
}
