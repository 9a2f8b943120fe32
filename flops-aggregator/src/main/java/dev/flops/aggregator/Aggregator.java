package dev.flops.aggregator;

import dev.flops.aggregator.internal.Checkpoint;
import dev.flops.aggregator.internal.CheckpointStore;
import dev.flops.aggregator.internal.DefaultKernel;
import dev.flops.aggregator.internal.DirectMemory;
import dev.flops.aggregator.internal.FederationService;
import dev.flops.aggregator.internal.MalformedMessageGuard;
import dev.flops.aggregator.internal.RoundLoop;
import dev.flops.aggregator.internal.UploadLimits;
import dev.flops.aggregator.internal.tracking.SystemMetrics;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.aggregator.tracking.Tracking;
import dev.flops.api.FederatedModel;
import dev.flops.api.FederationObserver;
import dev.flops.api.RoundRanking;
import dev.flops.api.SavableModel;
import dev.flops.api.Secret;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;
import dev.flops.proto.codec.Durations;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.FederationOutcome;
import io.grpc.Server;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator of a federation: a gRPC server that learners connect to, and the round loop that
 * trains with them.
 *
 * <pre>{@code
 * try (Aggregator aggregator = Aggregator.builder()
 *     .port(50051)
 *     .model(Dl4jModel.of(net))                 // the aggregator's own copy, built without data
 *     .strategy(FedAvg.builder().rounds(3).build())
 *     .build()
 *     .start()) {
 *   TrainingResult result = aggregator.train(); // blocks until every round has run
 * }
 * }</pre>
 *
 * <p>At the end of {@link #train()} the learners are told to shut down, and whether the training
 * succeeded or failed (a learner then exits non-zero); learners that connect after that, until
 * {@link #close()}, are told the same at once. The model copy holds the final global parameters
 * afterwards.
 *
 * <p>Training is tracked in MLflow as {@link Builder#tracking(Tracking)} says; by default in
 * MLflow's file store under {@code ./mlruns}, or at {@code MLFLOW_TRACKING_URI} when that is set.
 *
 * <p>With a {@linkplain Builder#checkpointDirectory checkpoint directory} the aggregator writes a
 * checkpoint after every completed round (global parameters, round, strategy state, round
 * summaries and best round, learner identities, {@link CheckpointExtras}); an aggregator built
 * with {@link Builder#resume resume(true)} continues after the last completed round, and the
 * learners, which reconnect by themselves, keep their ids. The checkpoint also holds the MLflow
 * experiment and run ids, and a resumed training continues the same runs.
 */
public final class Aggregator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Aggregator.class);

  /**
   * The most updates buffered at once when none is set: the number of processors, at least 2.
   * Decoding and folding an update is CPU work, so more uploads in flight than cores would only
   * cost memory.
   */
  public static final int DEFAULT_MAX_IN_FLIGHT_UPLOADS =
      Math.max(2, Runtime.getRuntime().availableProcessors());

  /**
   * The HTTP/2 flow-control window each stream starts with: what a learner may send before the
   * aggregator reads. An upload waiting for an in-flight slot is not read, so this is all the
   * memory it costs here: HTTP/2's own default of 64 KiB (gRPC's is 1 MiB, which a thousand
   * waiting uploads would turn into a gigabyte). gRPC's BDP estimation still widens the window of
   * a connection whose transfers need more, e.g. over a long link.
   */
  static final int INITIAL_FLOW_CONTROL_WINDOW = 64 * 1024;

  /** The port the aggregator listens on when none is set. */
  public static final int DEFAULT_PORT = 50051;
  /** Default idle time before the aggregator pings a learner's connection, in seconds. */
  public static final int DEFAULT_KEEP_ALIVE_SECONDS = 60;
  /** Default time a learner has to answer a keepalive ping, in seconds. */
  public static final int DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS = 20;
  /** Default shortest interval at which learners may ping the aggregator, in seconds. */
  public static final int DEFAULT_PERMIT_KEEP_ALIVE_SECONDS = 10;

  private final String host;
  private final int requestedPort;
  private final Strategy strategy;
  private final FederatedModel model;
  private final AveragingKernel kernel;
  private final List<FederationObserver> observers;
  private final Duration learnerWaitTimeout;
  private final Duration progressInterval;
  private final Executor executor;
  private final ExecutorService ownedExecutor;
  private final ServerSecurity security;
  private final FederationService service;
  private final Tracking tracking;
  /** Replaced once, at start, when a checkpoint says which MLflow run to continue. */
  private Tracker tracker;
  private final String modelName;
  private final Path checkpointDirectory;
  private final boolean resume;
  private final List<CheckpointExtras> checkpointExtras;
  private final Duration keepAliveTime;
  private final Duration keepAliveTimeout;
  private final Duration permitKeepAliveTime;
  private final RoundRanking ranking;
  private Server server;
  private CheckpointStore checkpoints;
  private Checkpoint resumeFrom;
  private boolean trained;
  /** Set by the first {@link #closeBecause}. */
  private boolean closed;

  private Aggregator(Builder builder) {
    this.host = builder.host;
    this.requestedPort = builder.port;
    this.strategy = builder.strategy;
    this.model = builder.model;
    this.kernel = builder.kernel != null ? builder.kernel
        : DefaultKernel.choose(Aggregator.class.getClassLoader());
    this.observers = List.copyOf(builder.observers);
    this.learnerWaitTimeout = builder.learnerWaitTimeout;
    this.progressInterval = builder.progressInterval;
    this.security = builder.security.copy();
    this.service =
        new FederationService(builder.maxInFlightUploads, builder.maxConcurrentDownloads);
    this.modelName = modelName(model);
    this.tracking = builder.tracking == null ? Tracking.defaults() : builder.tracking;
    this.tracker = Tracker.open(tracking, "flops-" + modelName);
    service.uploadLimits(new UploadLimits(builder.maxTensorCount, builder.maxUpdateBytes));
    this.checkpointDirectory = builder.checkpointDirectory;
    this.resume = builder.resume;
    this.checkpointExtras = List.copyOf(builder.checkpointExtras);
    this.keepAliveTime = builder.keepAliveTime;
    this.keepAliveTimeout = builder.keepAliveTimeout;
    this.permitKeepAliveTime = builder.permitKeepAliveTime;
    service.permitKeepAliveTime(permitKeepAliveTime);
    this.ranking = builder.ranking;
    service.rankRoundsBy(ranking);
    if (builder.executor != null) {
      this.executor = builder.executor;
      this.ownedExecutor = null;
    } else {
      AtomicInteger threads = new AtomicInteger();
      this.ownedExecutor = Executors.newCachedThreadPool(r -> {
        Thread thread = new Thread(r, "flops-aggregator-" + threads.incrementAndGet());
        thread.setDaemon(true);
        return thread;
      });
      this.executor = ownedExecutor;
    }
  }

  /** Names the model for tracking: the framework's class when it says, else the model's class. */
  private static String modelName(FederatedModel model) {
    if (model instanceof SavableModel savable) {
      String modelClass = savable.flavorAttributes().get("model_class");
      if (modelClass != null) {
        return savable.flavor() + "-" + modelClass.substring(modelClass.lastIndexOf('.') + 1);
      }
      return savable.flavor();
    }
    return model.getClass().getSimpleName();
  }

  /**
   * Returns a new builder.
   *
   * @return a builder with the defaults: all interfaces, port {@value #DEFAULT_PORT}, FedAvg with
   *     its defaults, the ND4J kernel, a 10 minute wait for learners
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens the checkpoint directory (and, to resume, loads its checkpoint), binds the server and
   * starts accepting learners.
   *
   * @return this aggregator
   * @throws IOException if the address cannot be bound, e.g. the port is in use, or the checkpoint
   *     cannot be used (another aggregator holds the directory, the file is corrupt or does not
   *     fit the model); the message says what is wrong and what to do
   * @throws IllegalStateException if the aggregator was already started, its checkpoint
   *     directory holds a checkpoint but resume is off, or the JVM's direct memory cannot hold a
   *     round of this model: {@code (2 + maxInFlightUploads)} models plus transfers (the message
   *     names {@code -XX:MaxDirectMemorySize} and the size to give it; with less than the
   *     advised {@code (3 + maxInFlightUploads)} models the aggregator only warns)
   */
  public synchronized Aggregator start() throws IOException {
    if (server != null) {
      throw new IllegalStateException("the aggregator is already started on port " + port());
    }
    checkDirectMemory();
    if (checkpointDirectory != null && checkpoints == null) {
      openCheckpoints();
    }
    Server built = security.serverBuilder(new InetSocketAddress(host, requestedPort))
        .addService(MalformedMessageGuard.guard(service))
        .executor(executor)
        .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
        .initialFlowControlWindow(INITIAL_FLOW_CONTROL_WINDOW)
        .keepAliveTime(keepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTimeout(keepAliveTimeout.toNanos(), TimeUnit.NANOSECONDS)
        .permitKeepAliveTime(permitKeepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
        .permitKeepAliveWithoutCalls(true)
        .build();
    try {
      built.start();
    } catch (IOException e) {
      security.close();
      closeCheckpoints();
      if (isAddressInUse(e)) {
        throw new IOException(String.format(
            "cannot listen on %s:%d: the port is already in use; choose another port or stop "
                + "the process that holds it", host, requestedPort), e);
      }
      throw new IOException(String.format("cannot listen on %s:%d: %s", host, requestedPort,
          e.getMessage()), e);
    }
    server = built;
    log.info("aggregator listening on {}:{} (protocol v{})", host, port(), WireProtocol.VERSION);
    security.logStart(log, host, port());
    return this;
  }

  /**
   * Refuses to start when a round of this model cannot fit the JVM's direct memory, rather than
   * failing the first uploads with an OutOfMemoryError once learners have done their work.
   */
  private void checkDirectMemory() {
    long modelBytes = model.getParameters().byteSize();
    DirectMemory.budget(modelBytes, service.uploadSlots().capacity(),
            service.downloadSlots().capacity())
        .check().ifPresent(warning -> log.warn("{}", warning));
  }

  /**
   * Locks the checkpoint directory and, to resume, loads the checkpoint into the model copy, the
   * strategy, the learner identities and the {@link CheckpointExtras}, before any learner can
   * connect.
   */
  private void openCheckpoints() throws IOException {
    CheckpointStore store = CheckpointStore.open(checkpointDirectory);
    try {
      if (!resume) {
        if (Files.exists(store.file())) {
          throw new IllegalStateException(String.format("the checkpoint directory %s already "
              + "holds a checkpoint (%s); resume from it with resume(true) (--resume), or give "
              + "a new directory to start over", checkpointDirectory, store.file().getFileName()));
        }
      } else {
        Checkpoint checkpoint = store.read(model.getParameters()).orElse(null);
        if (checkpoint == null) {
          log.info("no checkpoint in {} yet: training starts from round 1", checkpointDirectory);
        } else {
          strategy.restoreState(checkpoint.strategyState().values());
          model.setParameters(checkpoint.parameters());
          service.restoreIdentities(checkpoint.learners());
          continueTracking(checkpoint);
          for (CheckpointExtras extras : checkpointExtras) {
            try {
              extras.restore(checkpoint.extras(), checkpoint.round());
            } catch (RuntimeException e) {
              log.warn("CheckpointExtras {} threw on restore; training goes on",
                  extras.getClass().getName(), e);
            }
          }
          log.info("loaded the checkpoint of round {} from {}", checkpoint.round(), store.file());
          resumeFrom = checkpoint;
        }
      }
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
    checkpoints = store;
  }

  /** Checkpoint extras under which the aggregator keeps its MLflow ids. */
  static final String TRACKING_EXPERIMENT = "flops.mlflow.experiment_id";
  static final String TRACKING_PARENT_RUN = "flops.mlflow.parent_run_id";
  static final String TRACKING_ROUND_RUN = "flops.mlflow.round_run_id.";

  /** Stores the MLflow ids in every checkpoint, so that a resumed training continues its runs. */
  private final CheckpointExtras trackingIds = round -> {
    Map<String, String> ids = new LinkedHashMap<>();
    if (tracker.experimentId() != null && tracker.parentRunId() != null) {
      ids.put(TRACKING_EXPERIMENT, tracker.experimentId());
      ids.put(TRACKING_PARENT_RUN, tracker.parentRunId());
      tracker.roundRunIds().forEach((r, id) -> ids.put(TRACKING_ROUND_RUN + r, id));
    }
    return ids;
  };

  /**
   * Continues the MLflow runs of the checkpointed training, unless tracking is off or the
   * application already said which run to resume.
   */
  private void continueTracking(Checkpoint checkpoint) {
    Map<String, String> extras = checkpoint.extras();
    String experiment = extras.get(TRACKING_EXPERIMENT);
    String parent = extras.get(TRACKING_PARENT_RUN);
    if (!tracker.enabled() || experiment == null || parent == null
        || tracking.resumeParentRunId().isPresent()) {
      return;
    }
    Map<Integer, String> roundRuns = new TreeMap<>();
    extras.forEach((key, id) -> {
      if (key.startsWith(TRACKING_ROUND_RUN)) {
        try {
          roundRuns.put(Integer.parseInt(key.substring(TRACKING_ROUND_RUN.length())), id);
        } catch (NumberFormatException e) {
          log.warn("ignored the checkpoint entry '{}': not a round number", key);
        }
      }
    });
    tracker.close();
    tracker = Tracker.open(tracking.resume(experiment, parent, roundRuns), "flops-" + modelName);
  }

  private void closeCheckpoints() {
    if (checkpoints != null) {
      try {
        checkpoints.close();
      } catch (IOException e) {
        log.warn("could not release the checkpoint directory lock: {}", e.toString());
      }
      checkpoints = null;
    }
  }

  private static boolean isAddressInUse(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
        return true;
      }
    }
    return false;
  }

  /** The pool of in-flight uploads, for tests that count buffered updates. */
  dev.flops.aggregator.internal.TransferSlots uploadSlots() {
    return service.uploadSlots();
  }

  /** The pool of downloads in progress, for tests that count them. */
  dev.flops.aggregator.internal.TransferSlots downloadSlots() {
    return service.downloadSlots();
  }

  /**
   * Returns the port the server is bound to; useful after binding port 0.
   *
   * @return the bound port
   * @throws IllegalStateException if the aggregator is not started
   */
  public synchronized int port() {
    if (server == null) {
      throw new IllegalStateException("the aggregator is not started; call start() first");
    }
    return server.getPort();
  }

  /**
   * Returns the learners connected now, one entry per learner however often it reconnected.
   *
   * @return the learners' ids, in the order they first joined
   */
  public List<String> connectedLearners() {
    return service.availableLearners();
  }

  /**
   * Runs every round, then tells the learners to shut down with the outcome (succeeded, failed
   * with the reason, or stopped when interrupted). Blocks until done.
   *
   * @return the per-round summaries, the best round and the final parameters
   * @throws TrainingException if training stops before its last round (e.g. too few learners
   *     connected in time, or the model copy rejected the new parameters)
   * @throws InterruptedException if the calling thread is interrupted
   * @throws IllegalStateException if the aggregator is not started or has already trained
   */
  public TrainingResult train() throws InterruptedException {
    synchronized (this) {
      port();
      if (trained) {
        throw new IllegalStateException("this aggregator has already trained; build a new one");
      }
      trained = true;
    }
    RoundLoop loop =
        new RoundLoop(service, strategy, model, kernel, observers, learnerWaitTimeout)
            .progressEvery(progressInterval)
            .tracking(tracker, new SystemMetrics(kernel instanceof Nd4jAveraging), modelName)
            .rankRoundsBy(ranking);
    if (checkpoints != null) {
      List<CheckpointExtras> extras = new ArrayList<>();
      extras.add(trackingIds);
      extras.addAll(checkpointExtras);
      loop.checkpointTo(checkpoints, extras);
      if (resumeFrom != null) {
        loop.resumeFrom(resumeFrom);
      }
    }
    // The learners hear how it ended: they exit non-zero after a failure, so that a supervisor
    // restarts them for the resumed aggregator.
    FederationOutcome outcome = FederationOutcome.STOPPED;
    String end = "it was interrupted";
    try {
      TrainingResult result = loop.run();
      outcome = FederationOutcome.SUCCEEDED;
      end = result.rounds().size() + " rounds completed";
      return result;
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      outcome = FederationOutcome.FAILED;
      end = e.getMessage();
      throw new TrainingException("federated training failed: " + e.getMessage(), e);
    } finally {
      service.shutdownLearners(outcome, end);
      tracker.close();
    }
  }

  /**
   * Stops the server (learners still connected are told that the aggregator stopped, unless they
   * already heard how training ended) and, unless the executor was supplied by the caller, shuts
   * down the aggregator's own threads. Closing again does nothing.
   */
  @Override
  public void close() {
    closeBecause("it was closed");
  }

  /**
   * Closes as {@link #close()} does, telling learners {@code reason} (e.g. that a signal stopped
   * the process) if training has not ended yet.
   */
  synchronized void closeBecause(String reason) {
    // A shutdown hook may close while the main thread's try-with-resources does too.
    if (closed) {
      return;
    }
    closed = true;
    if (server != null) {
      service.shutdownLearners(FederationOutcome.STOPPED, reason);
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        server.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    security.close();
    if (ownedExecutor != null) {
      ownedExecutor.shutdownNow();
    }
    tracker.close();
    closeCheckpoints();
  }

  /** Builds an {@link Aggregator}; setters check their values at once. */
  public static final class Builder {
    private String host = "0.0.0.0";
    private int port = DEFAULT_PORT;
    private Strategy strategy = FedAvg.withDefaults();
    private FederatedModel model;
    /** Null: {@link DefaultKernel} chooses at build time. */
    private AveragingKernel kernel;
    private final List<FederationObserver> observers = new ArrayList<>();
    private Duration learnerWaitTimeout = Duration.ofMinutes(10);
    private Duration progressInterval = RoundLoop.DEFAULT_PROGRESS_INTERVAL;
    private Executor executor;
    private int maxInFlightUploads = DEFAULT_MAX_IN_FLIGHT_UPLOADS;
    private int maxConcurrentDownloads = FederationService.DEFAULT_MAX_CONCURRENT_DOWNLOADS;
    private Tracking tracking;
    private int maxTensorCount;
    private long maxUpdateBytes;
    private final ServerSecurity security = new ServerSecurity();
    private Path checkpointDirectory;
    private boolean resume;
    private final List<CheckpointExtras> checkpointExtras = new ArrayList<>();
    private Duration keepAliveTime = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_SECONDS);
    private Duration keepAliveTimeout = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS);
    private Duration permitKeepAliveTime = Duration.ofSeconds(DEFAULT_PERMIT_KEEP_ALIVE_SECONDS);
    private RoundRanking ranking = RoundRanking.defaults();

    private Builder() {}

    /**
     * Sets the address to listen on (default {@code 0.0.0.0}, every interface).
     *
     * @param host a host name or IP address, e.g. {@code 127.0.0.1}
     * @return this builder
     */
    public Builder host(String host) {
      Objects.requireNonNull(host, "host");
      if (host.isBlank()) {
        throw new IllegalArgumentException("host must not be blank");
      }
      this.host = host;
      return this;
    }

    /**
     * Sets the port to listen on (default {@value Aggregator#DEFAULT_PORT}; 0 picks a free one).
     *
     * @param port from 0 to 65535
     * @return this builder
     * @throws IllegalArgumentException if the port is out of range
     */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be in [0, 65535] but was " + port);
      }
      this.port = port;
      return this;
    }

    /**
     * Sets the strategy (default {@link FedAvg#withDefaults()}).
     *
     * @param strategy the strategy
     * @return this builder
     */
    public Builder strategy(Strategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    /**
     * Sets the aggregator's own copy of the user's model (required). Its parameters start the
     * training unless the strategy says otherwise, and it receives the global parameters after
     * every round.
     *
     * @param model the model copy
     * @return this builder
     */
    public Builder model(FederatedModel model) {
      this.model = Objects.requireNonNull(model, "model");
      return this;
    }

    /**
     * Sets the averaging kernel (default {@link Nd4jAveraging} when ND4J is on the classpath,
     * else {@link dev.flops.aggregator.kernel.JavaAveraging}, which the log then says).
     *
     * @param kernel the kernel
     * @return this builder
     */
    public Builder averagingKernel(AveragingKernel kernel) {
      this.kernel = Objects.requireNonNull(kernel, "averagingKernel");
      return this;
    }

    /**
     * Adds an observer of the training's lifecycle events.
     *
     * @param observer the observer
     * @return this builder
     */
    public Builder observer(FederationObserver observer) {
      observers.add(Objects.requireNonNull(observer, "observer"));
      return this;
    }

    /**
     * Sets how long a round waits for the strategy's minimum of connected learners before
     * training fails (default 10 minutes).
     *
     * @param timeout a positive duration
     * @return this builder
     */
    public Builder learnerWaitTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "learnerWaitTimeout");
      if (timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("learnerWaitTimeout must be positive but was "
            + Durations.forPeople(timeout));
      }
      this.learnerWaitTimeout = timeout;
      return this;
    }

    /**
     * Sets how often a fit or evaluate phase that is still running logs a progress line (default
     * 10 seconds): results in, failures, uploads under way, downloads streaming and the learners
     * still working, e.g. {@code round 2 fit: 3 of 5 updates in, 1 upload under way, 1 learner
     * still training; 40 s}. A phase that ends sooner logs no progress line.
     *
     * @param interval a positive duration
     * @return this builder
     * @throws IllegalArgumentException if {@code interval} is zero or negative
     */
    public Builder progressInterval(Duration interval) {
      Objects.requireNonNull(interval, "progressInterval");
      if (interval.isZero() || interval.isNegative()) {
        throw new IllegalArgumentException("progressInterval must be positive but was "
            + Durations.forPeople(interval));
      }
      this.progressInterval = interval;
      return this;
    }

    /**
     * Sets how many uploaded updates the aggregator buffers at once. Each buffered update costs one
     * model's worth of off-heap memory, reused from round to round; an upload beyond the bound waits,
     * its data held back on the learner's side by gRPC flow control, until an earlier update is
     * folded. With {@code k} in flight and the ND4J kernel, the aggregator holds about
     * {@code (2 + k)} models at the end of a round: the current global parameters, the running sum
     * (which becomes the next global parameters in place) and the {@code k} updates, however many
     * learners there are.
     *
     * @param maxInFlightUploads at least 1; default {@link #DEFAULT_MAX_IN_FLIGHT_UPLOADS}
     * @return this builder
     */
    public Builder maxInFlightUploads(int maxInFlightUploads) {
      if (maxInFlightUploads < 1) {
        throw new IllegalArgumentException(
            "maxInFlightUploads must be at least 1 but was " + maxInFlightUploads);
      }
      this.maxInFlightUploads = maxInFlightUploads;
      return this;
    }

    /**
     * Sets how many learners the aggregator streams parameters to at once. Each download in
     * progress holds at most one chunk (1 MiB) queued in gRPC; a download beyond the bound waits,
     * having sent nothing, until an earlier one ends, so that many learners asking at the same
     * moment cost a bounded amount of memory. The aggregator's uplink is shared by the downloads
     * in progress anyway, so the bound costs little time unless learners are slower to receive
     * than the aggregator is to send.
     *
     * @param maxConcurrentDownloads at least 1; default 16
     * @return this builder
     */
    public Builder maxConcurrentDownloads(int maxConcurrentDownloads) {
      if (maxConcurrentDownloads < 1) {
        throw new IllegalArgumentException(
            "maxConcurrentDownloads must be at least 1 but was " + maxConcurrentDownloads);
      }
      this.maxConcurrentDownloads = maxConcurrentDownloads;
      return this;
    }

    /**
     * Sets the executor that runs gRPC callbacks. The aggregator won't take ownership of the
     * given executor: the caller shuts it down after {@link Aggregator#close()}. By default the
     * aggregator uses its own cached thread pool and shuts it down on close.
     *
     * @param executor the executor
     * @return this builder
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Sets where the training is tracked in MLflow (default {@link Tracking#defaults()}: the
     * {@code MLFLOW_TRACKING_URI} environment variable if set, else the file store {@code
     * ./mlruns}); {@link Tracking#off()} disables tracking.
     *
     * @param tracking the tracking backend and its options
     * @return this builder
     */
    public Builder tracking(Tracking tracking) {
      this.tracking = Objects.requireNonNull(tracking, "tracking");
      return this;
    }

    /**
     * Sets the most tensors an update's manifest may declare (default: the global model's tensor
     * count). The limit is checked on the upload's header, before anything is allocated for the
     * update; a manifest above it is refused with {@code RESOURCE_EXHAUSTED} naming this knob. An
     * update must have the global model's structure anyway, so the default is the tightest limit
     * that lets a valid update through; training fails at its start if the limit is below the
     * global model's count.
     *
     * @param maxTensorCount a positive count
     * @return this builder
     * @throws IllegalArgumentException if the count is not positive
     */
    public Builder maxTensorCount(int maxTensorCount) {
      if (maxTensorCount < 1) {
        throw new IllegalArgumentException("maxTensorCount must be positive but was " + maxTensorCount);
      }
      this.maxTensorCount = maxTensorCount;
      return this;
    }

    /**
     * Sets the most data bytes an update's manifest may declare (default: the global model's byte
     * size). Checked like {@link #maxTensorCount(int)}: on the header, before anything is
     * allocated, refused with {@code RESOURCE_EXHAUSTED} naming this knob; training fails at its
     * start if the limit is below the global model's size.
     *
     * @param maxUpdateBytes a positive byte count
     * @return this builder
     * @throws IllegalArgumentException if the count is not positive
     */
    public Builder maxUpdateBytes(long maxUpdateBytes) {
      if (maxUpdateBytes < 1) {
        throw new IllegalArgumentException("maxUpdateBytes must be positive but was " + maxUpdateBytes);
      }
      this.maxUpdateBytes = maxUpdateBytes;
      return this;
    }

    /**
     * Makes the aggregator write a checkpoint into {@code directory} after every completed round
     * (default: no checkpoints). The directory is created if needed and locked while the
     * aggregator runs; it must not hold a checkpoint unless {@link #resume resume} is on.
     *
     * @param directory a directory of its own for this federation
     * @return this builder
     */
    public Builder checkpointDirectory(Path directory) {
      this.checkpointDirectory = Objects.requireNonNull(directory, "checkpointDirectory");
      return this;
    }

    /**
     * Makes the aggregator continue from the checkpoint in its checkpoint directory, if there is
     * one, with the round after it (default false). The checkpoint must fit the model copy (same
     * tensor names, dtypes and shapes). Without a checkpoint yet, training starts from round 1,
     * so a supervisor may always start the aggregator with resume on.
     *
     * @param resume whether to resume
     * @return this builder
     */
    public Builder resume(boolean resume) {
      this.resume = resume;
      return this;
    }

    /**
     * Adds entries of the application's own to every checkpoint, and receives them back on
     * resume; see {@link CheckpointExtras}.
     *
     * @param extras the provider of the entries
     * @return this builder
     */
    public Builder checkpointExtras(CheckpointExtras extras) {
      checkpointExtras.add(Objects.requireNonNull(extras, "checkpointExtras"));
      return this;
    }

    /**
     * Sets the aggregator's gRPC keepalive (defaults {@value Aggregator#DEFAULT_KEEP_ALIVE_SECONDS}
     * s and {@value Aggregator#DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS} s): after {@code time} without
     * traffic on a learner's connection the aggregator pings it, and a ping unanswered for
     * {@code timeout} closes the connection, which fails that learner's pending task at once
     * instead of at the round timeout (a learner whose machine or network died). gRPC raises a
     * {@code time} below 10 s to 10 s, so a dead connection is noticed after at least
     * {@code 10 s + timeout} of silence.
     *
     * @param time the idle time before a ping, positive
     * @param timeout how long to wait for the answer, positive
     * @return this builder
     * @throws IllegalArgumentException if a duration is zero or negative
     */
    public Builder keepAlive(Duration time, Duration timeout) {
      this.keepAliveTime = positive("keepAlive time", time);
      this.keepAliveTimeout = positive("keepAlive timeout", timeout);
      return this;
    }

    /**
     * Sets the shortest interval at which a learner may send keepalive pings (default
     * {@value Aggregator#DEFAULT_PERMIT_KEEP_ALIVE_SECONDS} s, which lets learners ping every 10 s,
     * the shortest interval gRPC clients use). A learner that pings more often is disconnected
     * with {@code too_many_pings}. Pings are permitted also while a learner has no call open.
     *
     * @param time a positive duration
     * @return this builder
     * @throws IllegalArgumentException if the duration is zero or negative
     */
    public Builder permitKeepAliveTime(Duration time) {
      this.permitKeepAliveTime = positive("permitKeepAliveTime", time);
      return this;
    }

    /**
     * Sets how the best round is chosen (default {@link RoundRanking#defaults()}: the highest
     * federated accuracy, and the lowest loss where no accuracy is reported). The best round is
     * the one the final log line, {@link TrainingResult#best()}, the observers and the tracked best
     * model name; a resumed training ranks the checkpoint's rounds by this knob too. Learners must
     * report the ranking metric as a number: a result that carries it as a bool or string is
     * refused.
     *
     * @param ranking e.g. {@code RoundRanking.minimize("mse")} for a regression model
     * @return this builder
     */
    public Builder bestRound(RoundRanking ranking) {
      this.ranking = Objects.requireNonNull(ranking, "bestRound");
      return this;
    }

    /**
     * Turns on TLS: learners then connect over TLS and check this certificate against their
     * trusted roots. The files are read and checked at once.
     *
     * @param certificateChain PEM file of the aggregator's certificate, then any intermediate
     *     certificates; its subject alternative names must cover the host learners dial
     * @param privateKey PEM file of the certificate's private key, unencrypted PKCS#8
     *     ({@code -----BEGIN PRIVATE KEY-----}); readable by this process only, ideally
     * @return this builder
     * @throws IllegalArgumentException if a file is missing, unreadable, malformed, expired, or
     *     the key does not belong to the certificate; the message names the file
     */
    public Builder tls(Path certificateChain, Path privateKey) {
      Objects.requireNonNull(certificateChain, "certificateChain");
      Objects.requireNonNull(privateKey, "privateKey");
      ServerSecurity.checkServerFiles(certificateChain, privateKey);
      security.certificateChain = certificateChain;
      security.privateKey = privateKey;
      return this;
    }

    /**
     * Turns on mutual TLS: every learner must present a certificate signed by one of these
     * certificate authorities, or its connection is refused during the handshake. Needs
     * {@link #tls(Path, Path)}. With {@link #learnerTokens(Map)} too, a learner's certificate
     * must name its token's learner (subject CN or a DNS subject alternative name), or its calls
     * are refused with {@code PERMISSION_DENIED}.
     *
     * @param certificateAuthorities PEM file of the CA certificates that sign learners'
     *     certificates
     * @return this builder
     * @throws IllegalArgumentException if the file is missing, unreadable, holds no certificate
     *     or an expired one
     */
    public Builder requireClientCertificates(Path certificateAuthorities) {
      Objects.requireNonNull(certificateAuthorities, "certificateAuthorities");
      ServerSecurity.checkClientAuthorities(certificateAuthorities);
      security.clientCertificateAuthorities = certificateAuthorities;
      return this;
    }

    /**
     * Requires every learner to present this token (one secret shared by all learners). A call
     * without it is refused with {@code UNAUTHENTICATED} before any model data is sent.
     * Excludes {@link #learnerTokens(Map)}. Use it with TLS: without TLS the token travels in
     * cleartext.
     *
     * @param token the shared token
     * @return this builder
     */
    public Builder learnerToken(Secret token) {
      security.sharedToken = Objects.requireNonNull(token, "learnerToken");
      return this;
    }

    /**
     * Requires every learner to present its own token, bound to its name: a call without a
     * listed token is refused with {@code UNAUTHENTICATED}, and a learner whose Hello gives
     * another name than its token's with {@code PERMISSION_DENIED}. Excludes
     * {@link #learnerToken(Secret)}.
     *
     * @param tokens learner name (as given to {@code Learner.builder().name(...)}) to token;
     *     every token distinct
     * @return this builder
     * @throws IllegalArgumentException if the map is empty, a name is blank, or two learners
     *     share a token
     */
    public Builder learnerTokens(Map<String, Secret> tokens) {
      Objects.requireNonNull(tokens, "learnerTokens");
      security.learnerTokens = ServerSecurity.checkLearnerTokens(tokens);
      return this;
    }

    /**
     * Reads per-learner tokens, as {@link #learnerTokens(Map)} takes them, from a file of
     * {@code NAME=TOKEN} lines (blank lines and {@code #} comments skipped).
     *
     * @param file the tokens file; readable by this process only, ideally
     * @return this builder
     * @throws IllegalArgumentException if the file is missing, unreadable or malformed; the
     *     message names the file and line, never a token
     */
    public Builder learnerTokensFile(Path file) {
      Objects.requireNonNull(file, "learnerTokensFile");
      security.learnerTokens = ServerSecurity.readLearnerTokens(file);
      return this;
    }

    /**
     * Bounds the learners connected at once from one IP address (default
     * {@value ServerSecurity#DEFAULT_MAX_CALLS_PER_ADDRESS}): their control streams. Each learner
     * holds one control stream and at most one transfer (download or upload), and each control
     * stream entitles its address to one transfer beyond the bound, so an address holds at most
     * {@code 2 × max} calls; learners behind one NAT share an address. Calls beyond it are refused
     * with {@code RESOURCE_EXHAUSTED}; a refused learner retries with backoff.
     *
     * @param max at least 2
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is below 2
     */
    public Builder maxCallsPerAddress(int max) {
      security.maxCallsPerAddress = atLeast("maxCallsPerAddress", max, 2);
      return this;
    }

    /**
     * Bounds the calls open at once in total (default
     * {@value ServerSecurity#DEFAULT_MAX_CALLS}); beyond it calls are refused with
     * {@code RESOURCE_EXHAUSTED}.
     *
     * @param max at least 2
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is below 2
     */
    public Builder maxCalls(int max) {
      security.maxCalls = atLeast("maxCalls", max, 2);
      return this;
    }

    /**
     * Bounds the concurrent calls on one connection (HTTP/2 streams; default
     * {@value ServerSecurity#DEFAULT_MAX_CALLS_PER_CONNECTION}); a learner needs two.
     *
     * @param max at least 2
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is below 2
     */
    public Builder maxCallsPerConnection(int max) {
      security.maxCallsPerConnection = atLeast("maxCallsPerConnection", max, 2);
      return this;
    }

    /**
     * Sets how long a new connection may take to complete its handshake (TLS and HTTP/2
     * preface) before it is closed, and how long a new control stream or upload may stay silent
     * before its first message (default 20 s).
     *
     * @param timeout a positive duration
     * @return this builder
     */
    public Builder handshakeTimeout(Duration timeout) {
      security.handshakeTimeout = positive("handshakeTimeout", timeout);
      return this;
    }

    /**
     * Sets how long a connection without any open call is kept (default 5 minutes). A joined
     * learner always holds its control stream, so this closes only connections that idle.
     *
     * @param idle a positive duration
     * @return this builder
     */
    public Builder maxConnectionIdle(Duration idle) {
      security.maxConnectionIdle = positive("maxConnectionIdle", idle);
      return this;
    }

    /**
     * Caps how long any connection lives (default: unbounded). When a connection reaches it,
     * its learner is disconnected and reconnects as a new session, failing the task it was
     * running: set it well above a whole federation's length, if at all.
     *
     * @param age a positive duration
     * @return this builder
     */
    public Builder maxConnectionAge(Duration age) {
      security.maxConnectionAge = positive("maxConnectionAge", age);
      return this;
    }

    private static int atLeast(String knob, int value, int min) {
      if (value < min) {
        throw new IllegalArgumentException(knob + " must be at least " + min + " but was " + value);
      }
      return value;
    }

    private static Duration positive(String knob, Duration value) {
      Objects.requireNonNull(value, knob);
      if (value.isZero() || value.isNegative()) {
        throw new IllegalArgumentException(
            knob + " must be positive but was " + Durations.forPeople(value));
      }
      return value;
    }

    /**
     * Builds the aggregator (not yet listening; call {@link Aggregator#start()}).
     *
     * @return the aggregator
     * @throws IllegalStateException if no model was set, or settings conflict (client
     *     certificates without TLS, a shared token and per-learner tokens, resume without a
     *     checkpoint directory)
     * @throws IllegalArgumentException if tracking cannot work: the file store directory is not
     *     writable, or {@code MLFLOW_TRACKING_URI} holds an invalid or unsupported URI
     */
    public Aggregator build() {
      security.checkConsistent();
      if (model == null) {
        throw new IllegalStateException("an Aggregator needs model(...): the aggregator's own "
            + "copy of the user's model, e.g. model(Dl4jModel.of(net))");
      }
      if (resume && checkpointDirectory == null) {
        throw new IllegalStateException("resume(true) needs checkpointDirectory(...): the "
            + "directory whose checkpoint the aggregator continues from");
      }
      return new Aggregator(this);
    }
  }
}
