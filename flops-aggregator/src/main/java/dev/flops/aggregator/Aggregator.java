package dev.flops.aggregator;

import dev.flops.aggregator.internal.DefaultKernel;
import dev.flops.aggregator.internal.FederationService;
import dev.flops.aggregator.internal.MalformedMessageGuard;
import dev.flops.aggregator.internal.RoundLoop;
import dev.flops.aggregator.internal.UploadLimits;
import dev.flops.aggregator.internal.tracking.Tracker;
import dev.flops.aggregator.kernel.ExactAveraging;
import dev.flops.aggregator.kernel.Nd4jAveraging;
import dev.flops.api.FederatedModel;
import dev.flops.api.SavableModel;
import dev.flops.api.Secret;
import dev.flops.api.TrainingResult;
import dev.flops.api.strategy.AveragingKernel;
import dev.flops.api.strategy.Strategy;
import dev.flops.dl4j.NativeThreads;
import dev.flops.proto.codec.InlineParameters;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.FederationOutcome;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator of a federation: a long-lived gRPC server that learners connect to, on which
 * trainings run one after the other with the same connected learners.
 *
 * <pre>{@code
 * try (Aggregator aggregator = Aggregator.builder()
 *     .port(50051)
 *     .model(Dl4jModel.of(net))                 // the aggregator's own copy, built without data
 *     .build()                                  // no socket, thread or file yet
 *     .start()) {                               // binds; learners may connect from now on
 *   TrainingResult result = aggregator.train(   // blocks until every round has run
 *       TrainingPlan.builder().rounds(3).build(),
 *       FedAvg.builder().fractionFit(0.5).build());
 *   TrainingResult second = aggregator.train(   // the same learners, another experiment
 *       TrainingPlan.builder().rounds(5).name("lr 0.01").build(), otherStrategy);
 * }                                             // close(): learners told to shut down
 * }</pre>
 *
 * <p>The server owns the transport, the connected learners and the transfers; a training owns its
 * rounds, its tracking (MLflow runs) and its checkpoint, as its {@link TrainingPlan} says, and
 * its decisions are its {@link Strategy}'s. Learners stay connected between trainings; they are
 * told to shut down, with the outcome of the last training, at {@link #shutdownLearners()} or
 * {@link #close()}. The model copy holds the last training's final global parameters.
 *
 * <p>Thread rules: {@link #train} runs on the calling thread, one training at a time per
 * aggregator; {@link #close()} may be called from any thread (a signal handler's, say) and ends a
 * running training's transfers.
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
   * The threads of the aggregator's own executor, which runs the gRPC callbacks (decoding,
   * checking and folding updates, sending models) when no {@link Builder#executor(Executor)} is
   * given: twice the number of processors, at least 4. Fixed, not a cached pool (gRPC's own
   * default): a thousand learners' callbacks arriving in a burst on a busy machine made a cached
   * pool start a thread for almost every one (335 threads on 2 cores at 1000 learners, each with
   * its stack and malloc arena), which cost memory and time and returned nothing. The callbacks
   * do CPU work (folds one at a time, under a lock) and never wait for a task that is still
   * queued, so a bounded pool cannot deadlock them, and more threads than this cannot go faster
   * (benchmarks/README.md, "Issue 13: the aggregator's memory over rounds").
   */
  public static final int DEFAULT_EXECUTOR_THREADS =
      Math.max(4, 2 * Runtime.getRuntime().availableProcessors());

  /**
   * The HTTP/2 flow-control window each stream starts with: what a learner may send before the
   * aggregator reads. An upload waiting for an in-flight slot is not read, so this is all the
   * memory it costs here: HTTP/2's own default of 64 KiB (gRPC's is 1 MiB, which a thousand
   * waiting uploads would turn into a gigabyte). The window is fixed ({@link #flowControl}); set
   * another with {@link Builder#flowControlWindow(int)}.
   */
  public static final int DEFAULT_FLOW_CONTROL_WINDOW = 64 * 1024;

  /** The package's name for {@link #DEFAULT_FLOW_CONTROL_WINDOW}, kept for its tests. */
  static final int INITIAL_FLOW_CONTROL_WINDOW = DEFAULT_FLOW_CONTROL_WINDOW;

  /**
   * Gives the server its fixed per-stream window. Not gRPC's BDP auto-tuning
   * ({@code initialFlowControlWindow}): it widens a connection's window, for every later stream
   * of that connection, up to 8 MiB once a transfer on it went fast, so a learner's next upload
   * could push up to its whole update into this process while it waits for a slot. With 1000
   * learners of a 0.4 MB model the aggregator's direct memory then peaked at 180, 298, 312 ...
   * 384 MiB over rounds 1-7 and the scale run ran out of it (benchmarks/README.md, "Issue 13: 1000
   * learners"); fixed, it stayed at 134-154 MiB: waiting uploads cost {@code N ×} this window.
   */
  static NettyServerBuilder flowControl(NettyServerBuilder builder) {
    return flowControl(builder, DEFAULT_FLOW_CONTROL_WINDOW);
  }

  static NettyServerBuilder flowControl(NettyServerBuilder builder, int window) {
    return builder.flowControlWindow(window);
  }

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
  private final FederatedModel model;
  private final AveragingKernel suppliedKernel;
  private final boolean reproducibleAggregation;
  private final Duration progressInterval;
  private final Executor suppliedExecutor;
  private final ServerSecurity security;
  private final FederationService service;
  private final String modelName;
  private final Duration keepAliveTime;
  private final Duration keepAliveTimeout;
  private final Duration permitKeepAliveTime;
  private final int flowControlWindow;
  /** Chosen at start: choosing may load ND4J, which unpacks native libraries. */
  private AveragingKernel kernel;
  private ExecutorService ownedExecutor;
  private Server server;
  /** Held while a training runs: one at a time. */
  private final Object training = new Object();
  private boolean trainingRunning;
  /** How the last training ended: what the learners are told at shutdown. */
  private volatile FederationOutcome lastOutcome = FederationOutcome.STOPPED;
  private volatile String lastEnd = "no training ran";
  /** The running training's tracker, closed by {@link #close()} if it closes mid-training. */
  private volatile Tracker runningTracker;
  /** Set by the first {@link #closeBecause}. */
  private boolean closed;
  /** {@link Builder#nativeThreads(int)}; 0: ND4J's own setting. */
  private final int nativeThreads;

  private Aggregator(Builder builder) {
    this.host = builder.host;
    this.requestedPort = builder.port;
    this.model = builder.model;
    this.suppliedKernel = builder.kernel;
    this.reproducibleAggregation = builder.reproducibleAggregation;
    this.progressInterval = builder.progressInterval;
    this.security = builder.security.copy();
    this.service =
        new FederationService(builder.maxInFlightUploads, builder.maxConcurrentDownloads);
    this.modelName = modelName(model);
    service.uploadLimits(new UploadLimits(builder.maxTensorCount, builder.maxUpdateBytes));
    service.maxInlineBytes(builder.maxInlineBytes);
    this.flowControlWindow = builder.flowControlWindow;
    service.streamWindow(flowControlWindow);
    this.keepAliveTime = builder.keepAliveTime;
    this.keepAliveTimeout = builder.keepAliveTimeout;
    this.permitKeepAliveTime = builder.permitKeepAliveTime;
    service.permitKeepAliveTime(permitKeepAliveTime);
    this.suppliedExecutor = builder.executor;
    this.nativeThreads = builder.nativeThreads;
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
   * @return a builder with the defaults: all interfaces, port {@value #DEFAULT_PORT}, the ND4J
   *     kernel when ND4J is on the classpath
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Chooses the averaging kernel, binds the server and starts accepting learners.
   *
   * @return this aggregator
   * @throws IOException if the address cannot be bound, e.g. the port is in use; the message says
   *     what to do
   * @throws IllegalStateException if the aggregator was already started or closed, or the JVM's
   *     direct memory cannot hold a round of this model: {@code (2 + maxInFlightUploads)} models
   *     plus transfers (the message names {@code -XX:MaxDirectMemorySize} and the size to give
   *     it; with less than the advised {@code (3 + maxInFlightUploads)} models the aggregator only
   *     warns)
   */
  public synchronized Aggregator start() throws IOException {
    if (closed) {
      throw new IllegalStateException("the aggregator is closed; build a new one");
    }
    if (server != null) {
      throw new IllegalStateException("the aggregator is already started on port " + port());
    }
    checkDirectMemory();
    if (nativeThreads > 0) {
      int applied = NativeThreads.limit(nativeThreads);
      log.info("native threads: {} (nativeThreads({}): OpenBLAS and ND4J's thread pool for this "
          + "process, OpenMP for this thread)", applied, nativeThreads);
    }
    if (kernel == null) {
      kernel = suppliedKernel != null ? suppliedKernel
          : DefaultKernel.choose(Aggregator.class.getClassLoader());
      if (reproducibleAggregation) {
        kernel = new ExactAveraging(kernel);
      }
    }
    Executor executor = suppliedExecutor;
    if (executor == null) {
      AtomicInteger threads = new AtomicInteger();
      ownedExecutor = Executors.newFixedThreadPool(DEFAULT_EXECUTOR_THREADS, r -> {
        Thread thread = new Thread(r, "flops-aggregator-" + threads.incrementAndGet());
        thread.setDaemon(true);
        return thread;
      });
      executor = ownedExecutor;
    }
    Server built = flowControl(
            security.serverBuilder(new InetSocketAddress(host, requestedPort)), flowControlWindow)
        .addService(MalformedMessageGuard.guard(service))
        .executor(executor)
        .maxInboundMessageSize(WireProtocol.MAX_MESSAGE_BYTES)
        .keepAliveTime(keepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTimeout(keepAliveTimeout.toNanos(), TimeUnit.NANOSECONDS)
        .permitKeepAliveTime(permitKeepAliveTime.toNanos(), TimeUnit.NANOSECONDS)
        .permitKeepAliveWithoutCalls(true)
        .build();
    try {
      built.start();
    } catch (IOException e) {
      security.close();
      shutdownOwnedExecutor();
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
    service.checkDirectMemory(model.getParameters().byteSize())
        .ifPresent(warning -> log.warn("{}", warning));
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

  /** The model copy the aggregator was built with, for {@link ClusterTrainer}. */
  FederatedModel model() {
    return model;
  }

  /**
   * Stops the server as a crash would, for tests of a resume: every call is cut, the learners
   * are told nothing (they reconnect as after a lost connection), a running training goes on
   * until its caller interrupts it.
   */
  synchronized void killServerForTest() {
    if (server != null) {
      server.shutdownNow();
    }
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
   * Runs one training over the live server with the learners connected to it: every round of
   * {@code plan}, deciding with {@code strategy}. Blocks until done. The learners stay connected
   * afterwards, for the next training; they are told to shut down at {@link #shutdownLearners()}
   * or {@link #close()}.
   *
   * <p>With a checkpoint directory in the plan, a checkpoint is written after every completed
   * round; with {@code resume} on, the training continues after the checkpoint's last round (its
   * parameters, strategy state, learner identities, rounds and MLflow runs).
   *
   * @param plan the loop policy: rounds, timeouts, minimums, tracking, checkpoints, observers
   * @param strategy the decisions: sampling, configs, aggregation, evaluation
   * @return the per-round summaries, the best round and the final parameters
   * @throws TrainingException if training stops before its last round (e.g. too few learners
   *     connected in time, or the model copy rejected the new parameters), or the checkpoint
   *     cannot be used (another aggregator holds the directory, the file is corrupt or does not
   *     fit the model); the message says what to do
   * @throws InterruptedException if the calling thread is interrupted
   * @throws IllegalStateException if the aggregator is not started, is closed or has told its
   *     learners to shut down, another training is running, or the plan's checkpoint directory
   *     holds a checkpoint but resume is off (nothing is run or written then)
   * @throws IllegalArgumentException if tracking cannot work: the file store directory is not
   *     writable, or the tracking URI is invalid
   */
  public TrainingResult train(TrainingPlan plan, Strategy strategy) throws InterruptedException {
    Objects.requireNonNull(plan, "plan");
    Objects.requireNonNull(strategy, "strategy");
    synchronized (this) {
      port();
      if (closed) {
        throw new IllegalStateException("the aggregator is closed; build a new one to train");
      }
      if (learnersShutDown) {
        throw new IllegalStateException("the learners were told to shut down; build and start "
            + "a new aggregator to train again");
      }
    }
    synchronized (training) {
      if (trainingRunning) {
        throw new IllegalStateException("another training is running on this aggregator; "
            + "trainings run one after the other");
      }
      trainingRunning = true;
    }
    TrainingRun run = new TrainingRun(plan, strategy, service, model, kernel, modelName,
        progressInterval, tracker -> runningTracker = tracker);
    try {
      TrainingResult result = run.run();
      lastOutcome = FederationOutcome.SUCCEEDED;
      lastEnd = result.rounds().size() + " rounds completed";
      return result;
    } catch (TrainingException e) {
      // The learners hear it at shutdown: they exit non-zero after a failure, so that a
      // supervisor restarts them for the resumed aggregator.
      lastOutcome = FederationOutcome.FAILED;
      lastEnd = e.getCause() != null && e.getCause().getMessage() != null
          ? e.getCause().getMessage() : e.getMessage();
      throw e;
    } catch (InterruptedException e) {
      lastOutcome = FederationOutcome.STOPPED;
      lastEnd = "it was interrupted";
      throw e;
    } catch (RuntimeException | Error e) {
      // A training refused at its start (its settings) is the last training too: the learners
      // must not be told that an earlier one's success was the end.
      lastOutcome = FederationOutcome.FAILED;
      lastEnd = String.valueOf(e.getMessage());
      throw e;
    } finally {
      synchronized (training) {
        trainingRunning = false;
      }
    }
  }

  /** Set once the learners were told to shut down: no training can run after that. */
  private boolean learnersShutDown;

  /**
   * Tells every connected learner, and every learner that connects until {@link #close()}, to
   * shut down, with how the last training ended (succeeded, failed with its reason, or stopped
   * if none ran or it was interrupted): a learner exits non-zero after a failure. No training can
   * run afterwards. Calling it again does nothing.
   */
  public synchronized void shutdownLearners() {
    if (learnersShutDown) {
      return;
    }
    learnersShutDown = true;
    service.shutdownLearners(lastOutcome, lastEnd);
  }

  /**
   * Tells the learners to shut down as {@link #shutdownLearners()} does (if not yet), stops the
   * server and, unless the executor was supplied by the caller, the aggregator's own threads. A
   * training still running fails: its learners are gone. Closing again does nothing.
   */
  @Override
  public void close() {
    closeBecause(null);
  }

  /**
   * Closes as {@link #close()} does; {@code reason}, if not null, is what the learners are told
   * (e.g. that a signal stopped the process) unless they were told already.
   */
  synchronized void closeBecause(String reason) {
    // A shutdown hook may close while the main thread's try-with-resources does too.
    if (closed) {
      return;
    }
    closed = true;
    if (server != null) {
      if (trainingRunningNow()) {
        service.shutdownLearners(FederationOutcome.STOPPED,
            reason != null ? reason : "it was closed during a training");
      } else if (lastOutcome == FederationOutcome.STOPPED && reason != null) {
        lastEnd = reason;
      }
      shutdownLearners();
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
    shutdownOwnedExecutor();
    Tracker running = runningTracker;
    if (running != null) {
      running.close();
    }
  }

  private boolean trainingRunningNow() {
    synchronized (training) {
      return trainingRunning;
    }
  }

  /** The most threads the aggregator's own executor has had at once; 0 with a given executor. */
  synchronized int largestExecutorPoolSize() {
    return ownedExecutor instanceof ThreadPoolExecutor pool ? pool.getLargestPoolSize() : 0;
  }

  private void shutdownOwnedExecutor() {
    if (ownedExecutor != null) {
      ownedExecutor.shutdownNow();
      ownedExecutor = null;
    }
  }

  /** Builds an {@link Aggregator}; setters check their values at once. */
  public static final class Builder {
    private String host = "0.0.0.0";
    private int port = DEFAULT_PORT;
    private FederatedModel model;
    /** Null: {@link DefaultKernel} chooses at build time. */
    private AveragingKernel kernel;
    private boolean reproducibleAggregation;
    private Duration progressInterval = RoundLoop.DEFAULT_PROGRESS_INTERVAL;
    private Executor executor;
    private int maxInFlightUploads = DEFAULT_MAX_IN_FLIGHT_UPLOADS;
    private int maxConcurrentDownloads = FederationService.DEFAULT_MAX_CONCURRENT_DOWNLOADS;
    private int maxTensorCount;
    private long maxUpdateBytes;
    private int maxInlineBytes = FederationService.DEFAULT_MAX_INLINE_BYTES;
    private int flowControlWindow = DEFAULT_FLOW_CONTROL_WINDOW;
    private int nativeThreads;
    private final ServerSecurity security = new ServerSecurity();
    private Duration keepAliveTime = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_SECONDS);
    private Duration keepAliveTimeout = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS);
    private Duration permitKeepAliveTime = Duration.ofSeconds(DEFAULT_PERMIT_KEEP_ALIVE_SECONDS);

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
     * Makes the global model independent of the order in which updates arrive (default off): the
     * weighted sums use {@link ExactAveraging} (exact fixed-point accumulation), so two runs of a
     * federation whose learners send the same updates give bit-identical global parameters every
     * round, whatever the thread timing. The averaging kernel (the one given to
     * {@link #averagingKernel} or the default) still supplies the element-wise operations of
     * server optimizers. Costs 16 bytes of Java heap per parameter while a round's sum is open
     * and a slower fold (benchmarks/README.md, "Issue 12: reproducible aggregation"); refuses
     * an update with a value of magnitude {@code 2^22} or more as invalid, and strategies whose
     * sums use weights that are not integers (FedAvg's are example counts).
     *
     * @param reproducible true for order-independent sums
     * @return this builder
     */
    public Builder reproducibleAggregation(boolean reproducible) {
      this.reproducibleAggregation = reproducible;
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
      this.progressInterval = Knobs.positive("progressInterval", interval);
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
     * aggregator uses its own fixed pool of {@link #DEFAULT_EXECUTOR_THREADS} daemon threads
     * named {@code flops-aggregator-N} (numbered per aggregator) and shuts it down on close. An
     * executor given here should have a bounded number of threads, e.g.
     * {@code Executors.newFixedThreadPool(n)}: gRPC submits a task per message of every learner's
     * call. Not {@code directExecutor()}: updates would be decoded and folded on the network
     * threads.
     *
     * @param executor the executor
     * @return this builder
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
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
     * Sets the largest parameter data, in bytes, that travels inline on a learner's control stream
     * (default {@value FederationService#DEFAULT_MAX_INLINE_BYTES}, 64 KiB; 0 turns inline
     * transfers off). Global parameters at most this large go inside the task message and an
     * update at most this large inside the learner's result message, instead of a download call
     * and an upload call per learner and round: for small models the two calls' set-up costs
     * more than their bytes. Larger models, and learners that do not offer inline transfers
     * (older versions), keep the streaming calls. Inline data is checked exactly like uploaded
     * data (capability, manifest, limits, CRC32C, finite values).
     *
     * <p>Memory: inline messages bypass what bounds the streaming calls ({@link
     * #maxInFlightUploads(int)} slots for uploads, a few downloads at a time): every learner's
     * result may arrive at once, and every task is queued for sending at once. Each then holds up
     * to this size in the aggregator's direct (netty) memory until it is read or sent, so the
     * bound is about {@code 2 × learners × maxInlineBytes} (a task and a result per learner); the
     * default keeps that at one window of the default {@link #flowControlWindow(int)} per learner
     * and direction. With 1 MiB, 1000 learners of a 0.4 MB model ran the aggregator out of direct
     * memory in round 1 (benchmarks/README, "Issue 13: the targets on a quiet machine"); raise it
     * only for few learners. A decoded inline update is held on the heap while it is folded, one
     * per result being handled. A control-stream message is at most this size plus its header,
     * within the server's message limit of 4 MiB + 64 KiB.
     *
     * @param maxInlineBytes from 0 to 4 MiB (4194304)
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public Builder maxInlineBytes(int maxInlineBytes) {
      if (maxInlineBytes < 0 || maxInlineBytes > InlineParameters.MAX_INLINE_BYTES) {
        throw new IllegalArgumentException(String.format(
            "maxInlineBytes must be in [0, %d] (0 turns inline transfers off) but was %d",
            InlineParameters.MAX_INLINE_BYTES, maxInlineBytes));
      }
      this.maxInlineBytes = maxInlineBytes;
      return this;
    }

    /**
     * Sets how many native threads ND4J computes with in this process, applied by {@link #start()}
     * (default: not set, ND4J's own sizing, one thread per core) through {@link
     * NativeThreads#limit}: OpenBLAS's threads and ND4J's thread pool for the whole process,
     * OpenMP's for the thread that calls {@code start()} (OpenMP keeps its count per thread). The
     * log says what was applied. Nothing restores the previous setting at {@link #close()}: it
     * holds for whatever the process computes afterwards.
     *
     * <p>Why 1 suits a dedicated aggregator process: OpenBLAS's idle worker threads spin on
     * {@code sched_yield} for about 0.1 s after every call, and an aggregator folds an update
     * every few milliseconds, so a worker spun through the whole round: at 10M parameters and 10
     * learners, 0.2-0.27 s of CPU a round taken from the learners and the network stack sharing
     * the cores (benchmarks/README, "Issue 13: the targets on a quiet machine"). A single fold is
     * a little faster on two threads (10M values: 1.5 ms against 1.7 ms in the JMH kernel
     * benchmark, {@code AveragingKernelBenchmark.fold}), 2 ms a round at 10 updates against that
     * spinning.
     * Keep ND4J's default (do not call this) when the same process trains or evaluates large DL4J
     * models, whose matrix products do use the cores; {@code AggregatorMain} and {@code
     * fashion-aggregator} apply 1 unless told otherwise ({@code --native-threads}).
     *
     * @param threads from 1 to {@value NativeThreads#MAX_THREADS}
     * @return this builder
     * @throws IllegalArgumentException if out of range, or if ND4J is not on the classpath
     */
    public Builder nativeThreads(int threads) {
      if (threads < 1 || threads > NativeThreads.MAX_THREADS) {
        throw new IllegalArgumentException(String.format(
            "nativeThreads must be from 1 to %d but was %d", NativeThreads.MAX_THREADS, threads));
      }
      if (!DefaultKernel.nd4jPresent(Aggregator.class.getClassLoader())) {
        throw new IllegalArgumentException("nativeThreads(" + threads + ") sizes ND4J's native "
            + "threads, but ND4J is not on the classpath; drop the call");
      }
      this.nativeThreads = threads;
      return this;
    }

    /**
     * Sets the HTTP/2 flow-control window of every stream, in bytes (default
     * {@value Aggregator#DEFAULT_FLOW_CONTROL_WINDOW}, 64 KiB): how much a learner may send before
     * the aggregator reads. It bounds what uploads waiting for an in-flight slot cost here
     * ({@code learners × window} of direct memory), and it bounds a single transfer's speed to about
     * {@code window / round-trip time}: 64 KiB moves 1.3 MB/s over a 50 ms link but is not the limit
     * on a LAN or loopback. Raise it (e.g. to 1 MiB) for few learners over long links; keep it small
     * for many learners. The window stays fixed: gRPC's auto-tuning would widen it per connection
     * after a fast transfer and let waiting uploads fill the aggregator's memory (benchmarks/README,
     * "Issue 13: 1000 learners").
     *
     * @param bytes from 64 KiB (65536) to 16 MiB (16777216)
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public Builder flowControlWindow(int bytes) {
      if (bytes < DEFAULT_FLOW_CONTROL_WINDOW || bytes > 16 * 1024 * 1024) {
        throw new IllegalArgumentException(String.format(
            "flowControlWindow must be in [%d, %d] bytes but was %d", DEFAULT_FLOW_CONTROL_WINDOW,
            16 * 1024 * 1024, bytes));
      }
      this.flowControlWindow = bytes;
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
      this.keepAliveTime = Knobs.positive("keepAlive time", time);
      this.keepAliveTimeout = Knobs.positive("keepAlive timeout", timeout);
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
      this.permitKeepAliveTime = Knobs.positive("permitKeepAliveTime", time);
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
      security.maxCallsPerAddress = Knobs.atLeast("maxCallsPerAddress", max, 2);
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
      security.maxCalls = Knobs.atLeast("maxCalls", max, 2);
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
      security.maxCallsPerConnection = Knobs.atLeast("maxCallsPerConnection", max, 2);
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
      security.handshakeTimeout = Knobs.positive("handshakeTimeout", timeout);
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
      security.maxConnectionIdle = Knobs.positive("maxConnectionIdle", idle);
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
      security.maxConnectionAge = Knobs.positive("maxConnectionAge", age);
      return this;
    }

    /**
     * Builds the aggregator. Like grpc-java's {@code ServerBuilder.build()}, this has no side
     * effect: no socket, thread or file until {@link Aggregator#start()}.
     *
     * @return the aggregator, not yet listening
     * @throws IllegalStateException if no model was set, or settings conflict (client
     *     certificates without TLS, a shared token and per-learner tokens)
     */
    public Aggregator build() {
      security.checkConsistent();
      if (model == null) {
        throw new IllegalStateException("an Aggregator needs model(...): the aggregator's own "
            + "copy of the user's model, e.g. model(Dl4jModel.of(net))");
      }
      return new Aggregator(this);
    }
  }
}
