package dev.flops.aggregator.internal;

import dev.flops.proto.codec.WireError;
import dev.flops.proto.codec.WireFrame;
import io.grpc.BindableService;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers bytes that are not a valid request message with INVALID_ARGUMENT naming the method and
 * the parser's complaint, and tells the service that the stream is gone.
 *
 * <p>Left to itself, grpc-java parses requests before the service sees them and, when parsing
 * fails, closes the call with UNKNOWN "Application error processing RPC", logs a SEVERE stack
 * trace, never tells the service, and still delivers the client's half-close: an upload made of
 * valid chunks followed by garbage would then be accepted although the client was told it failed
 * (grpc-java issue 6108). Here the service's methods receive raw bytes and this guard parses them.
 */
public final class MalformedMessageGuard {
  private static final Logger log = LoggerFactory.getLogger(MalformedMessageGuard.class);

  private static final MethodDescriptor.Marshaller<InputStream> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
          return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
          // Not copied: grpc keeps the stream valid until onMessage returns, and the guard parses
          // it there.
          return stream;
        }
      };

  private MalformedMessageGuard() {}

  /**
   * Wraps every method of a service.
   *
   * @param service the service
   * @return the service's definition, its requests parsed by the guard
   */
  public static ServerServiceDefinition guard(BindableService service) {
    // The federation's uploads are parsed in place (TransferBinding); the guard still owns the
    // parse, so malformed bytes are answered here as for any method.
    ServerServiceDefinition definition = service instanceof FederationService federation
        ? TransferBinding.bind(federation) : service.bindService();
    ServerServiceDefinition.Builder guarded =
        ServerServiceDefinition.builder(definition.getServiceDescriptor().getName());
    for (ServerMethodDefinition<?, ?> method : definition.getMethods()) {
      guarded.addMethod(guard(method));
    }
    return guarded.build();
  }

  private static <ReqT, RespT> ServerMethodDefinition<InputStream, RespT> guard(
      ServerMethodDefinition<ReqT, RespT> method) {
    MethodDescriptor<ReqT, RespT> typed = method.getMethodDescriptor();
    MethodDescriptor<InputStream, RespT> raw =
        typed.toBuilder(RAW, typed.getResponseMarshaller()).build();
    ServerCallHandler<ReqT, RespT> handler = method.getServerCallHandler();
    return ServerMethodDefinition.create(raw, (call, headers) -> {
      TypedCall<ReqT, RespT> typedCall = new TypedCall<>(call, typed);
      return new GuardListener<>(typedCall, handler.startCall(typedCall, headers));
    });
  }

  /**
   * The call as the service sees it: typed requests, and a close that happens once even when the
   * guard has closed the call first. Synchronized because the guard and the service's own threads
   * may both send or close.
   */
  private static final class TypedCall<ReqT, RespT>
      extends ForwardingServerCall<ReqT, RespT> {
    private final ServerCall<InputStream, RespT> raw;
    private final MethodDescriptor<ReqT, RespT> method;
    private boolean closed;

    TypedCall(ServerCall<InputStream, RespT> raw, MethodDescriptor<ReqT, RespT> method) {
      this.raw = raw;
      this.method = method;
    }

    @Override
    @SuppressWarnings("unchecked")
    protected ServerCall<ReqT, RespT> delegate() {
      // Only getMethodDescriptor() depends on the request type, and it is overridden.
      return (ServerCall<ReqT, RespT>) (ServerCall<?, RespT>) raw;
    }

    @Override
    public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
      return method;
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(RespT message) {
      if (!closed) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!closed) {
        closed = true;
        super.close(status, trailers);
      }
    }
  }

  /** Parses each request; the first that does not parse ends the call. */
  private static final class GuardListener<ReqT, RespT> extends ServerCall.Listener<InputStream> {
    private final TypedCall<ReqT, RespT> call;
    private final ServerCall.Listener<ReqT> service;
    private boolean broken;

    GuardListener(TypedCall<ReqT, RespT> call, ServerCall.Listener<ReqT> service) {
      this.call = call;
      this.service = service;
    }

    @Override
    public void onMessage(InputStream bytes) {
      if (broken) {
        return;
      }
      ReqT message;
      try {
        message = call.getMethodDescriptor().parseRequest(bytes);
      } catch (RuntimeException e) {
        broken = true;
        Status status = WireError.MALFORMED_MESSAGE.status(String.format(
            "%s received bytes that are not a valid %s message (%s); the peer must speak the "
                + "flops protocol", call.getMethodDescriptor().getFullMethodName(),
            requestType(call.getMethodDescriptor()), parserComplaint(e)));
        log.warn("{}", status.getDescription());
        call.close(status, WireError.MALFORMED_MESSAGE.trailers());
        // The service drops what it holds for this stream (e.g. a half-received upload).
        service.onCancel();
        return;
      }
      contained("a message", () -> service.onMessage(message));
    }

    @Override
    public void onHalfClose() {
      if (!broken) {
        contained("the client's half-close", service::onHalfClose);
      }
    }

    @Override
    public void onCancel() {
      if (!broken) {
        contained("the call's cancellation", service::onCancel);
      }
    }

    @Override
    public void onComplete() {
      if (!broken) {
        contained("the call's end", service::onComplete);
      }
    }

    @Override
    public void onReady() {
      if (!broken) {
        contained("the call's readiness", service::onReady);
      }
    }

    /**
     * Runs a callback of the service and answers whatever it throws as the aggregator fault it is
     * (INTERNAL, code AGGREGATOR_FAULT, one ERROR line). The service answers its own faults where
     * it can; this catches the rest, which gRPC would otherwise end with UNKNOWN and a SEVERE stack
     * trace of its own, telling the learner "Application error processing RPC".
     */
    private void contained(String event, Runnable callback) {
      try {
        callback.run();
      } catch (RuntimeException e) {
        StatusRuntimeException fault = Refusals.fault(log, "handling " + event + " of "
            + call.getMethodDescriptor().getBareMethodName(), e);
        try {
          call.close(fault.getStatus(), fault.getTrailers());
        } catch (RuntimeException alreadyOver) {
          // The call had ended (cancelled, or closed by the service): the log line is all.
        }
      }
    }

    private static String requestType(MethodDescriptor<?, ?> method) {
      Object prototype = method.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<?> p
          ? p.getMessagePrototype() : null;
      if (prototype instanceof WireFrame<?> frame) {
        prototype = frame.message();
      }
      return prototype == null ? "request" : prototype.getClass().getSimpleName();
    }

    private static String parserComplaint(RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      return String.valueOf(root.getMessage());
    }
  }
}
