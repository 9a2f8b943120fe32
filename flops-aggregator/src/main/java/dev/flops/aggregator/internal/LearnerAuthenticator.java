package dev.flops.aggregator.internal;

import dev.flops.api.Secret;
import dev.flops.proto.codec.WireError;
import dev.flops.proto.security.BearerToken;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks every call's learner token before any handler runs: a call without a valid token is
 * closed with {@code UNAUTHENTICATED} and never reaches the federation service, so it never
 * receives parameters. Tokens are compared in constant time; none is ever logged.
 *
 * <p>With per-learner tokens, the name a token belongs to is put in the call's {@link Context}
 * ({@link #AUTHENTICATED_NAME}); the service then refuses with {@code PERMISSION_DENIED} a
 * learner whose Hello gives another name, or a call about another learner's task.
 *
 * <p>With mutual TLS as well, a token is accepted only from a learner whose certificate names the
 * token's learner ({@link LearnerCertificate}): otherwise whoever holds one learner's certificate
 * and another's token could act as the second, and stealing a token alone would be enough.
 */
public final class LearnerAuthenticator implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(LearnerAuthenticator.class);

  /** The learner name the caller's token is bound to; unset with a shared token. */
  public static final Context.Key<String> AUTHENTICATED_NAME =
      Context.key("flops-authenticated-learner");

  private final Secret sharedToken;
  private final Map<String, Secret> learnerTokens;
  private final RefusalLog refusals = new RefusalLog(log);

  private LearnerAuthenticator(Secret sharedToken, Map<String, Secret> learnerTokens) {
    this.sharedToken = sharedToken;
    this.learnerTokens = learnerTokens;
  }

  /** Accepts any caller presenting {@code token}. */
  public static LearnerAuthenticator sharedToken(Secret token) {
    return new LearnerAuthenticator(Objects.requireNonNull(token, "token"), Map.of());
  }

  /** Accepts a caller presenting the token of one of the named learners, as that learner. */
  public static LearnerAuthenticator learnerTokens(Map<String, Secret> tokens) {
    if (tokens.isEmpty()) {
      throw new IllegalArgumentException("learnerTokens must name at least one learner");
    }
    return new LearnerAuthenticator(null, new LinkedHashMap<>(tokens));
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
      Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String presented = BearerToken.presented(headers);
    if (presented == null) {
      return refuse(call, "no learner token: this aggregator requires the header "
          + "'authorization: Bearer <token>'; give the learner its token (Learner.builder()"
          + ".token(...), or --token-file / FLOPS_TOKEN on the command line)");
    }
    if (sharedToken != null) {
      if (!sharedToken.matches(presented)) {
        return refuse(call, "the learner token is not valid for this aggregator");
      }
      return next.startCall(call, headers);
    }
    String name = null;
    // Every token is compared, matched or not, so that timing does not tell which one matched.
    for (Map.Entry<String, Secret> entry : learnerTokens.entrySet()) {
      if (entry.getValue().matches(presented) && name == null) {
        name = entry.getKey();
      }
    }
    if (name == null) {
      return refuse(call, "the learner token is not valid for this aggregator");
    }
    LearnerCertificate certificate = LearnerCertificate.CURRENT.get();
    if (certificate != null && !certificate.names().contains(name)) {
      return refuse(call, WireError.IDENTITY, String.format("this learner's certificate "
              + "is issued to %s but its token belongs to learner '%s'; with mutual TLS and "
              + "per-learner tokens both must name the same learner: give it the certificate "
              + "and the token issued for one name (the certificate's CN or a DNS subject "
              + "alternative name is the learner's name)", certificate.describeNames(), name));
    }
    Context context = Context.current().withValue(AUTHENTICATED_NAME, name);
    return Contexts.interceptCall(context, call, headers, next);
  }

  private <ReqT, RespT> ServerCall.Listener<ReqT> refuse(ServerCall<ReqT, RespT> call,
      String reason) {
    return refuse(call, WireError.UNAUTHENTICATED, reason);
  }

  private <ReqT, RespT> ServerCall.Listener<ReqT> refuse(ServerCall<ReqT, RespT> call,
      WireError code, String reason) {
    refusals.refused(String.format("refused %s from %s: %s",
        call.getMethodDescriptor().getBareMethodName(),
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), reason));
    call.close(code.status(reason), code.trailers());
    return new ServerCall.Listener<>() {};
  }
}
