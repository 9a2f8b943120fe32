package dev.flops.learner;

import dev.flops.api.LocalTrainer;
import dev.flops.api.Secret;
import dev.flops.learner.internal.Backoff;
import dev.flops.learner.internal.ControlSession;
import dev.flops.learner.internal.ReachabilityAdvice;
import dev.flops.proto.codec.Durations;
import dev.flops.proto.v1.FederationOutcome;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A learner: loads its local data, connects out to the aggregator (retrying with exponential
 * backoff and jitter while it is not reachable), then fits and evaluates whenever the aggregator
 * asks, until the aggregator tells it to shut down. {@link #run()} returns when the aggregator's
 * training finished and throws {@link FederationFailedException} when it failed or was stopped.
 *
 * <p>A learner keeps one identity for its whole life: it draws a random key when it is built and
 * presents it on every connection, so that after a dropped connection it reconnects (with backoff
 * and jitter) as the same learner, under the id the aggregator gave it first. gRPC keepalive pings
 * (every {@value #DEFAULT_KEEP_ALIVE_SECONDS} s by default) keep the connection alive through NATs
 * and firewalls during long rounds and detect a dead network path.
 *
 * <pre>{@code
 * Learner.builder()
 *     .aggregator("10.0.0.5:50051")
 *     .trainer(Dl4jTrainer.builder(Dl4jModel.of(net)).trainData(...).testData(...).build())
 *     .build()
 *     .run();   // returns when the federation is over
 * }</pre>
 */
public final class Learner {
  private static final Logger log = LoggerFactory.getLogger(Learner.class);

  /** Default interval of keepalive pings on an idle connection, in seconds. */
  public static final int DEFAULT_KEEP_ALIVE_SECONDS = 30;
  /** Default time to wait for a keepalive ping's answer before the connection counts as dead. */
  public static final int DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS = 10;

  private final AggregatorAddress aggregator;
  private final LocalTrainer trainer;
  private final String name;
  /** How messages name this learner: "learner a", or just "learner" for the default name. */
  private final String who;
  /** The name of a learner that was given none. */
  private static final String DEFAULT_NAME = "learner";
  private final Duration connectTimeout;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final SplittableRandom random;
  private final ClientSecurity security;
  private final Duration keepAliveTime;
  private final Duration keepAliveTimeout;
  private final List<ClientInterceptor> interceptors;
  /** Presented on every connection so that the aggregator recognises this learner (Hello). */
  private final String key = UUID.randomUUID().toString();
  private volatile Thread runner;
  private volatile ControlSession current;
  /** The id of the last session the aggregator welcomed, while a new one is being opened. */
  private volatile String lastId;
  /**
   * The keepalive time of the channel: the configured one, raised to the aggregator's
   * permitKeepAliveTime once its Welcome said that it permits fewer pings. Run thread only.
   */
  private Duration keepAliveInUse;
  /** The channel to the aggregator, replaced when the keepalive is adapted. Run thread only. */
  private ManagedChannel channel;

  private Learner(Builder builder) {
    this.aggregator = builder.aggregator;
    this.trainer = builder.trainer;
    this.name = builder.name;
    this.who = DEFAULT_NAME.equals(name) ? "learner" : "learner " + name;
    this.connectTimeout = builder.connectTimeout;
    this.initialBackoff = builder.initialBackoff;
    this.maxBackoff = builder.maxBackoff;
    this.security = builder.security.copy();
    // SplittableRandom: nearby seeds (learner 0, 1, 2...) give unrelated jitter, unlike Random.
    this.random = builder.seed == null ? new SplittableRandom() : new SplittableRandom(builder.seed);
    this.keepAliveTime = builder.keepAliveTime;
    this.keepAliveTimeout = builder.keepAliveTimeout;
    this.interceptors = List.copyOf(builder.interceptors);
  }

  /**
   * Returns a new builder.
   *
   * @return a builder with the defaults: a 10 minute connect timeout, backoff from 250 ms to 10 s,
   *     keepalive pings every 30 s answered within 10 s
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Runs the learner on the calling thread: prepares the local data, connects, serves tasks, and
   * returns once the aggregator has told it that its training finished. Call it once.
   *
   * <p>When the aggregator permits keepalive pings less often than this learner sends them (its
   * {@code permitKeepAliveTime} is above this learner's keepalive time), it says so when the
   * learner joins and admits the learner only on a connection that pings less often: the learner
   * then reconnects at once with its keepalive time raised to the aggregator's permit, for the
   * rest of its run.
   *
   * @throws FederationFailedException if the aggregator said that its training failed, or that it
   *     stopped before its training ended; the message quotes the aggregator's reason
   * @throws LearnerException if the data cannot be loaded, the aggregator's host does not resolve
   *     or the aggregator stays unreachable past the connect timeout, or it refuses the learner (e.g.
   *     another protocol version)
   * @throws InterruptedException if the thread is interrupted or {@link #stop()} is called
   */
  public void run() throws LearnerException, InterruptedException {
    runner = Thread.currentThread();
    try {
      trainer.prepare();
    } catch (Exception e) {
      throw new LearnerException(who + " could not load its local data: " + e, e);
    }
    // "ready", not "prepared its data": a cluster's trainer has no data of its own.
    log.info("{} is ready; connecting to {}", who, aggregator);
    resolve();
    security.warnIfExposed(log, who, aggregator);
    keepAliveInUse = keepAliveTime;
    channel = openChannel();
    try {
      serve();
    } finally {
      runner = null;
      channel.shutdownNow();
      if (!Thread.interrupted()) {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } else {
        Thread.currentThread().interrupt(); // stopped: keep the flag for the caller
      }
    }
  }

  private ManagedChannel openChannel() {
    Duration time = keepAliveInUse;
    return security.openChannel(aggregator, builder -> builder
        .keepAliveTime(time.toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTimeout(keepAliveTimeout.toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveWithoutCalls(true)
        .intercept(interceptors));
  }

  /** The interval the channel really pings at: gRPC raises anything below 10 s to 10 s. */
  private long pingIntervalMillis() {
    return Math.max(MIN_GRPC_KEEP_ALIVE.toMillis(), keepAliveInUse.toMillis());
  }

  /** gRPC's floor on a client's keepalive time. */
  private static final Duration MIN_GRPC_KEEP_ALIVE = Duration.ofSeconds(10);

  /** Replaces the channel by one whose keepalive the aggregator permits. */
  private void adaptKeepAlive(ControlSession session) {
    Duration permitted = Duration.ofMillis(session.permittedKeepAliveMillis());
    log.info("{}: {}; reconnecting with a keepalive time of {} ms instead of {} ms "
            + "(raise keepAlive to at least that to connect once only)", who,
        session.endDetail(), permitted.toMillis(), pingIntervalMillis());
    keepAliveInUse = permitted;
    ManagedChannel previous = channel;
    channel = openChannel();
    previous.shutdownNow();
  }

  /** Ends the run as the aggregator's Shutdown says: returns after a success, else throws. */
  private void finish(ControlSession session) throws FederationFailedException {
    switch (session.outcome()) {
      case FAILED, STOPPED -> {
        FederationFailedException failure = new FederationFailedException(
            session.outcome() == FederationOutcome.FAILED
                ? FederationFailedException.Outcome.FAILED
                : FederationFailedException.Outcome.STOPPED,
            session.endDetail(), name);
        log.error(failure.getMessage());
        throw failure;
      }
      // UNSPECIFIED: an aggregator from before outcomes, which only ever said this on success.
      default -> log.info("{}: the aggregator's training finished ({})", who,
          session.endDetail());
    }
  }

  /**
   * Runs the learner on a new daemon thread named after it, as {@link #run()} would; useful to
   * simulate several learners in one JVM.
   *
   * @return completes when {@code run()} returns, or exceptionally with what it threw
   */
  public CompletableFuture<Void> runAsync() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        run();
        done.complete(null);
      } catch (InterruptedException e) {
        log.info("{} stopped", who);
        done.completeExceptionally(e);
      } catch (FederationFailedException e) {
        done.completeExceptionally(e); // run() logged it
      } catch (LearnerException | RuntimeException e) {
        log.error("{} stopped: {}", who, e.getMessage());
        done.completeExceptionally(e);
      }
    }, name);
    thread.setDaemon(true);
    thread.start();
    return done;
  }

  /**
   * Returns the id the aggregator gave this learner. It stays the same across reconnections to
   * the same aggregator (and to one resumed from its checkpoint).
   *
   * @return the id, or empty before the learner first joined
   */
  public Optional<String> learnerId() {
    ControlSession session = current;
    String id = session == null ? null : session.learnerId();
    return Optional.ofNullable(id != null ? id : lastId);
  }

  /** Stops a running learner from another thread; {@link #run()} then throws. */
  public void stop() {
    Thread thread = runner;
    if (thread != null) {
      thread.interrupt();
    }
  }

  private void serve() throws LearnerException, InterruptedException {
    Backoff backoff = new Backoff(initialBackoff, maxBackoff, random);
    long deadline = System.nanoTime() + connectTimeout.toNanos();
    boolean everJoined = false;
    ReachabilityAdvice reachability =
        new ReachabilityAdvice(aggregator.toString(), security.tls, System::nanoTime);
    while (true) {
      ControlSession session = new ControlSession(channel, trainer, name, key,
          pingIntervalMillis(), new Backoff(initialBackoff, maxBackoff, random.split()));
      current = session;
      ControlSession.End end = session.run();
      if (session.joined()) {
        lastId = session.learnerId();
        everJoined = true;
        backoff.reset();
        reachability.reset();
        deadline = System.nanoTime() + connectTimeout.toNanos();
      }
      switch (end) {
        case SHUTDOWN -> {
          finish(session);
          return;
        }
        case COMPLETED -> {
          log.info("{}: the aggregator closed the connection without saying how the "
              + "federation ended", who);
          return;
        }
        case ADAPT_KEEPALIVE -> adaptKeepAlive(session);
        case STOPPED -> throw new InterruptedException(who + " was stopped");
        case REFUSED -> throw new LearnerException(
            "the aggregator at " + aggregator + " refused " + who + ": "
                + session.endDetail(), null);
        case UNAVAILABLE -> {
          if (System.nanoTime() > deadline) {
            throw new LearnerException(String.format(
                "the aggregator at %s was not reachable for %s (%s); %s", aggregator,
                Durations.forPeople(connectTimeout), session.endDetail(),
                reachability.advice(session.endStatus())), null);
          }
          Duration delay = backoff.next();
          log.info("{}: aggregator at {} {} ({}); retrying in {}", who, aggregator,
              everJoined ? "lost" : "not reachable yet", session.endDetail(),
              Durations.forPeople(delay));
          String warning = everJoined ? null : reachability.failed(session.endStatus());
          if (warning != null) {
            log.warn("{}: {}", who, warning);
          }
          Thread.sleep(delay.toMillis());
        }
      }
    }
  }

  /**
   * Waits, within the connect timeout, until the aggregator's host name resolves. A name may
   * appear after the learner starts (a Kubernetes Service created with the aggregator, a DNS
   * record on its way), so a name that does not resolve yet is retried like an aggregator that
   * is not up yet; a typo is said at once in a warning and fails at the connect timeout.
   */
  private void resolve() throws LearnerException, InterruptedException {
    Backoff backoff = new Backoff(initialBackoff, maxBackoff, random.split());
    long deadline = System.nanoTime() + connectTimeout.toNanos();
    boolean warned = false;
    while (true) {
      try {
        InetAddress.getByName(aggregator.host());
        if (warned) {
          log.info("{}: the aggregator host '{}' resolves now", who, aggregator.host());
        }
        return;
      } catch (UnknownHostException e) {
        if (System.nanoTime() > deadline) {
          throw new LearnerException(String.format(
              "the aggregator host '%s' does not resolve (tried for %s); check the address "
                  + "given as host:port (it is %s)", aggregator.host(),
              Durations.forPeople(connectTimeout), aggregator), e);
        }
        if (!warned) {
          log.warn("{}: the aggregator host '{}' does not resolve (yet); retrying for up to {} "
                  + "in case the name appears later (e.g. a Kubernetes Service created with the "
                  + "aggregator); if it is a typo, fix the address given as host:port", who,
              aggregator.host(), Durations.forPeople(connectTimeout));
          warned = true;
        }
        Thread.sleep(backoff.next().toMillis());
      }
    }
  }

  /** Builds a {@link Learner}; setters check their values at once. */
  public static final class Builder {
    private AggregatorAddress aggregator;
    private LocalTrainer trainer;
    private String name = DEFAULT_NAME;
    private Duration connectTimeout = Duration.ofMinutes(10);
    private Duration initialBackoff = Duration.ofMillis(250);
    private Duration maxBackoff = Duration.ofSeconds(10);
    private Long seed;
    private final ClientSecurity security = new ClientSecurity();
    private Duration keepAliveTime = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_SECONDS);
    private Duration keepAliveTimeout = Duration.ofSeconds(DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS);
    private final List<ClientInterceptor> interceptors = new ArrayList<>();

    private Builder() {}

    /**
     * Sets the aggregator's address (required).
     *
     * @param address {@code host:port}
     * @return this builder
     * @throws IllegalArgumentException if the address is malformed
     */
    public Builder aggregator(String address) {
      this.aggregator = AggregatorAddress.parse(address);
      return this;
    }

    /**
     * Sets the aggregator's address (required).
     *
     * @param host the host name or IP address
     * @param port the port
     * @return this builder
     * @throws IllegalArgumentException if the host is blank or the port out of range
     */
    public Builder aggregator(String host, int port) {
      this.aggregator = new AggregatorAddress(host, port);
      return this;
    }

    /**
     * Sets the local work: the model and its data (required).
     *
     * @param trainer the trainer
     * @return this builder
     */
    public Builder trainer(LocalTrainer trainer) {
      this.trainer = Objects.requireNonNull(trainer, "trainer");
      return this;
    }

    /**
     * Sets the name the learner gives itself in logs on both sides (default "learner").
     *
     * @param name a short name
     * @return this builder
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("the learner name must not be blank");
      }
      this.name = name;
      return this;
    }

    /**
     * Sets how long the learner keeps retrying an unreachable aggregator, before it first joins
     * and after it loses the connection (default 10 minutes).
     *
     * @param timeout a positive duration
     * @return this builder
     */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = positive("connectTimeout", timeout);
      return this;
    }

    /**
     * Sets the first and the largest retry delay (defaults 250 ms and 10 s). Each delay doubles
     * the previous one up to the largest, with jitter. The same delays pace the retries of a
     * download or upload that the aggregator refused for now ({@code RESOURCE_EXHAUSTED}: its
     * call bounds were reached; {@code UNAVAILABLE}), which go on until the transfer passes or
     * the aggregator ends the task; any other refusal is reported to the aggregator at once.
     *
     * @param initial the first delay
     * @param max the largest delay, at least {@code initial}
     * @return this builder
     */
    public Builder backoff(Duration initial, Duration max) {
      positive("initial backoff", initial);
      positive("max backoff", max);
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException(
            "max backoff " + Durations.forPeople(max) + " is shorter than the initial backoff "
                + Durations.forPeople(initial));
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /**
     * Makes the retry jitter reproducible (default: random).
     *
     * @param seed the seed
     * @return this builder
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Connects over TLS and accepts the aggregator only if its certificate chains up to one of
     * these roots and names the host dialled. The file is read and checked at once.
     *
     * @param rootCertificates PEM file of the trusted root certificates, e.g. the federation's
     *     own CA
     * @return this builder
     * @throws IllegalArgumentException if the file is missing, unreadable, holds no certificate
     *     or an expired one
     */
    public Builder trustedCertificates(Path rootCertificates) {
      Objects.requireNonNull(rootCertificates, "rootCertificates");
      ClientSecurity.checkTrustedCertificates(rootCertificates);
      security.tls = true;
      security.trustedCertificates = rootCertificates;
      return this;
    }

    /**
     * Connects over TLS and checks the aggregator against the JDK's default trusted roots (for
     * an aggregator with a certificate from a public authority).
     *
     * @return this builder
     */
    public Builder tls() {
      security.tls = true;
      return this;
    }

    /**
     * Presents this certificate to the aggregator, for mutual TLS. Needs
     * {@link #trustedCertificates(Path)} or {@link #tls()}. The files are read and checked at
     * once.
     *
     * @param certificateChain PEM file of the learner's certificate, then any intermediates
     * @param privateKey PEM file of its private key, unencrypted PKCS#8
     * @return this builder
     * @throws IllegalArgumentException if a file is missing, unreadable, malformed, expired, or
     *     the key does not belong to the certificate
     */
    public Builder clientCertificate(Path certificateChain, Path privateKey) {
      Objects.requireNonNull(certificateChain, "certificateChain");
      Objects.requireNonNull(privateKey, "privateKey");
      ClientSecurity.checkClientFiles(certificateChain, privateKey);
      security.certificateChain = certificateChain;
      security.privateKey = privateKey;
      return this;
    }

    /**
     * Sends this token with every call ({@code authorization: Bearer <token>}), for an
     * aggregator that requires learner tokens. Use it with TLS.
     *
     * @param token the learner's token (or the federation's shared one)
     * @return this builder
     */
    public Builder token(Secret token) {
      security.token = Objects.requireNonNull(token, "token");
      return this;
    }

    /**
     * Sets the gRPC keepalive of the connection to the aggregator (defaults
     * {@value Learner#DEFAULT_KEEP_ALIVE_SECONDS} s and {@value
     * Learner#DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS} s): a ping goes out after {@code time} without
     * traffic, and a ping unanswered for {@code timeout} ends the connection, which the learner
     * then re-opens with backoff. Pings keep NAT and firewall mappings open while a long fit
     * leaves the connection idle, and stop an upload from hanging on a dead network path. gRPC
     * raises a {@code time} below 10 s to 10 s. An aggregator that permits pings less often (its
     * {@code permitKeepAliveTime}, 10 s by default) says so when the learner joins; the learner
     * then reconnects at once with {@code time} raised to that permit (gRPC would otherwise close
     * the connection with {@code too_many_pings} in the middle of a long fit).
     *
     * @param time the idle time before a ping, positive
     * @param timeout how long to wait for the ping's answer, positive
     * @return this builder
     * @throws IllegalArgumentException if a duration is zero or negative
     */
    public Builder keepAlive(Duration time, Duration timeout) {
      this.keepAliveTime = positive("keepAlive time", time);
      this.keepAliveTimeout = positive("keepAlive timeout", timeout);
      return this;
    }

    /**
     * Adds a gRPC client interceptor to every call the learner makes, e.g. for metrics, tracing or
     * fault injection in tests. Several interceptors are applied as gRPC's
     * {@code ManagedChannelBuilder.intercept} applies them. The learner's channel runs call
     * callbacks on its transport thread (a direct executor): an interceptor's listener methods,
     * and a {@code sendMessage} of an upload's chunks (sent from the call's {@code onReady}), must
     * not block; hand slow work to a thread of its own. On the two transfer calls
     * (DownloadParameters, UploadUpdate) the tensor messages are {@code WireFrame}s of
     * flops-proto, not the generated messages; a received frame's chunk data is valid only until
     * {@code onMessage} returns.
     *
     * @param interceptor the interceptor
     * @return this builder
     */
    public Builder interceptor(ClientInterceptor interceptor) {
      interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /**
     * Builds the learner.
     *
     * @return the learner
     * @throws IllegalStateException if the aggregator address or the trainer is missing, or a
     *     client certificate is set without TLS
     */
    public Learner build() {
      security.checkConsistent();
      if (aggregator == null) {
        throw new IllegalStateException(
            "a Learner needs aggregator(\"host:port\"), e.g. aggregator(\"127.0.0.1:50051\")");
      }
      if (trainer == null) {
        throw new IllegalStateException(
            "a Learner needs trainer(...): the model and local data it trains on");
      }
      return new Learner(this);
    }

    private static Duration positive(String knob, Duration value) {
      Objects.requireNonNull(value, knob);
      if (value.isZero() || value.isNegative()) {
        throw new IllegalArgumentException(
            knob + " must be positive but was " + Durations.forPeople(value));
      }
      return value;
    }
  }
}
