package dev.flops.aggregator.internal;

import dev.flops.proto.codec.WireError;
import dev.flops.proto.v1.FederationGrpc;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the calls open at once (control streams, downloads, uploads), in total and per remote IP
 * address, so that a peer opening streams without end cannot exhaust the aggregator: a call
 * beyond a bound is closed at once with {@code RESOURCE_EXHAUSTED} and a message naming the
 * bound. A well-behaved learner holds one control stream plus at most one download or upload.
 *
 * <p>The per-address bound counts learners, not calls: it bounds the control streams of one
 * address, and each of them entitles that address to one transfer besides (a transfer is also
 * admitted while the address's calls of both kinds stay within the bound). Counting transfers
 * against the same bound as control streams made learners behind one address (a host, a NAT)
 * lose their tasks once more than half the bound had joined: 200 learners hold 200 control
 * streams and, while a round runs, up to 200 transfers. An address thus holds at most twice the
 * bound, and a flood of control streams is still refused beyond it.
 *
 * <p>A streaming call (control stream, upload) that sends nothing for {@code firstMessageTimeout}
 * after it opens is closed with {@code DEADLINE_EXCEEDED}, so that silent streams cannot hold
 * slots for ever. Close the limiter to stop its timer thread.
 */
public final class CallLimiter implements ServerInterceptor, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CallLimiter.class);

  private final int maxCalls;
  private final int maxCallsPerAddress;
  private final Duration firstMessageTimeout;
  private final ScheduledThreadPoolExecutor timer;
  /** Per address: its control streams and its other calls (transfers). */
  private final Map<InetAddress, Held> perAddress = new HashMap<>();
  private final RefusalLog refusals = new RefusalLog(log);
  private int total;

  /**
   * @param maxCalls the most calls open at once in total
   * @param maxCallsPerAddress the most control streams open at once from one IP address; each
   *     also admits one transfer beyond it
   * @param firstMessageTimeout how long a streaming call may stay silent after it opens
   */
  public CallLimiter(int maxCalls, int maxCallsPerAddress, Duration firstMessageTimeout) {
    this.maxCalls = maxCalls;
    this.maxCallsPerAddress = maxCallsPerAddress;
    this.firstMessageTimeout = firstMessageTimeout;
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread thread = new Thread(r, "flops-call-limiter");
      thread.setDaemon(true);
      return thread;
    });
    timer.setRemoveOnCancelPolicy(true);
  }

  /** Stops the timer thread. */
  @Override
  public void close() {
    timer.shutdownNow();
  }

  /** Returns how many calls are open now, for tests and diagnostics. */
  public synchronized int openCalls() {
    return total;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
      Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    InetAddress address = address(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    boolean control = isControlStream(call.getMethodDescriptor());
    String refusal = acquire(address, control);
    if (refusal != null) {
      refusals.refused("refused " + call.getMethodDescriptor().getBareMethodName() + ": "
          + refusal);
      call.close(WireError.BUSY.status(refusal), WireError.BUSY.trailers());
      return new ServerCall.Listener<>() {};
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (released.compareAndSet(false, true)) {
        release(address, control);
      }
    };
    ServerCall.Listener<ReqT> delegate;
    try {
      delegate = next.startCall(call, headers);
    } catch (RuntimeException e) {
      release.run();
      throw e;
    }
    boolean streaming = !call.getMethodDescriptor().getType().clientSendsOneMessage();
    // 0 waiting for the first message, 1 it came, 2 timed out before it came.
    AtomicInteger state = new AtomicInteger(streaming ? 0 : 1);
    ScheduledFuture<?> silence = !streaming ? null : timer.schedule(() -> {
      if (state.compareAndSet(0, 2)) {
        String reason = String.format("no message within %s of opening the call; a learner "
            + "says Hello (or sends its upload header) at once", firstMessageTimeout);
        refusals.refused("closed a silent " + call.getMethodDescriptor().getBareMethodName()
            + " from " + name(address) + ": " + reason);
        call.close(WireError.SILENT_CALL.status(reason), WireError.SILENT_CALL.trailers());
      }
    }, firstMessageTimeout.toMillis(), TimeUnit.MILLISECONDS);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private boolean introduced() {
        if (state.compareAndSet(0, 1)) {
          silence.cancel(false);
        }
        return state.get() == 1;
      }

      @Override
      public void onMessage(ReqT message) {
        if (introduced()) {
          super.onMessage(message);
        }
      }

      @Override
      public void onHalfClose() {
        if (introduced()) {
          super.onHalfClose();
        }
      }

      @Override
      public void onComplete() {
        ended();
        super.onComplete();
      }

      @Override
      public void onCancel() {
        ended();
        super.onCancel();
      }

      private void ended() {
        release.run();
        if (silence != null) {
          silence.cancel(false);
        }
      }
    };
  }

  /** The control stream is what makes a learner; every other method is a transfer. */
  private static boolean isControlStream(MethodDescriptor<?, ?> method) {
    return method.getFullMethodName().equals(FederationGrpc.getConnectMethod().getFullMethodName());
  }

  /**
   * Takes a place for a call, or returns why not. A control stream needs a place under the
   * per-address bound; a transfer is admitted while its address holds fewer transfers than
   * control streams (one per learner), or while the address's calls of both kinds stay within the
   * bound (a transfer on a connection without a control stream, which the service then refuses).
   */
  synchronized String acquire(InetAddress address, boolean control) {
    Held held = perAddress.getOrDefault(address, Held.NONE);
    if (control && held.controls() >= maxCallsPerAddress) {
      return String.format("%s already has %d calls open, the most one address may hold "
          + "(maxCallsPerAddress); it bounds the learners of one address (their control "
          + "streams; each may hold one transfer besides): close some or raise the limit",
          name(address), held.controls());
    }
    if (!control && held.transfers() >= held.controls()
        && held.controls() + held.transfers() >= maxCallsPerAddress) {
      return String.format("%s already has %d transfers open for its %d control streams, the "
          + "most one address may hold (maxCallsPerAddress; a learner holds one transfer at a "
          + "time); retry once a transfer has ended", name(address), held.transfers(),
          held.controls());
    }
    if (total >= maxCalls) {
      return String.format("the aggregator already has %d calls open, the most it accepts "
          + "(maxCalls); retry later or raise the limit", total);
    }
    perAddress.put(address, held.plus(control, 1));
    total++;
    return null;
  }

  synchronized void release(InetAddress address, boolean control) {
    total--;
    perAddress.computeIfPresent(address, (a, held) -> {
      Held left = held.plus(control, -1);
      return left.equals(Held.NONE) ? null : left;
    });
  }

  /** The calls one address holds open. */
  private record Held(int controls, int transfers) {
    static final Held NONE = new Held(0, 0);

    Held plus(boolean control, int delta) {
      return control ? new Held(controls + delta, transfers) : new Held(controls, transfers + delta);
    }
  }

  private static InetAddress address(SocketAddress remote) {
    return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
  }

  private static String name(InetAddress address) {
    return address == null ? "this peer" : address.getHostAddress();
  }
}
