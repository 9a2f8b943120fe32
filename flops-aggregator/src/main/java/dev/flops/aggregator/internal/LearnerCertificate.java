package dev.flops.aggregator.internal;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The certificate a learner presented in the TLS handshake (mutual TLS), as the identity of each
 * of its calls. TLS has already checked it against the learners' CA before any call starts; this
 * interceptor only makes its names visible to the checks that follow ({@link #CURRENT}).
 *
 * <p>A certificate's learner names are its subject's common name (CN) and its DNS subject
 * alternative names: with per-learner tokens, the token's learner must be one of them
 * ({@link LearnerAuthenticator}), and every download and upload must come from the same
 * certificate as the control stream its task was sent to.
 *
 * @param subject the certificate's subject distinguished name, as RFC 2253 prints it
 * @param names the learner names it holds: the subject's CN first, then DNS alternative names
 */
public record LearnerCertificate(String subject, List<String> names) {
  /** The certificate of the calling learner; unset without mutual TLS. */
  public static final Context.Key<LearnerCertificate> CURRENT =
      Context.key("flops-learner-certificate");

  public LearnerCertificate {
    names = List.copyOf(names);
  }

  /** Reads the names of a peer's certificate. */
  static LearnerCertificate of(X509Certificate certificate) {
    String subject = certificate.getSubjectX500Principal().getName();
    List<String> names = new ArrayList<>();
    try {
      for (Rdn rdn : new LdapName(subject).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          names.add(String.valueOf(rdn.getValue()));
        }
      }
    } catch (InvalidNameException e) {
      // The JDK printed this name itself, so it parses; a CN-less name just adds none.
    }
    try {
      Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
      if (alternatives != null) {
        for (List<?> alternative : alternatives) {
          if (Integer.valueOf(2).equals(alternative.get(0))) { // 2: dNSName (RFC 5280)
            names.add(String.valueOf(alternative.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // An unparsable extension leaves the CN as the only name.
    }
    return new LearnerCertificate(subject, names);
  }

  /** The names for messages: 'a' or 'a', 'b'. */
  String describeNames() {
    return names.isEmpty() ? "no name (neither a CN nor a DNS alternative name)"
        : "'" + String.join("', '", names) + "'";
  }

  /** Puts the calling learner's certificate, if it presented one, into the call's context. */
  public static ServerInterceptor interceptor() {
    return new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call,
          Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        LearnerCertificate certificate = peerCertificate(call);
        if (certificate == null) {
          return next.startCall(call, headers);
        }
        return Contexts.interceptCall(
            Context.current().withValue(CURRENT, certificate), call, headers, next);
      }
    };
  }

  private static LearnerCertificate peerCertificate(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x509 ? of(x509) : null;
    } catch (SSLPeerUnverifiedException e) {
      return null; // TLS without client certificates
    }
  }
}
