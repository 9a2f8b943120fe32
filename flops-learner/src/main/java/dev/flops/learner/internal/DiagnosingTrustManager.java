package dev.flops.learner.internal;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The JDK's trust manager for the learner's roots, unchanged in what it accepts, that tells the
 * two ways an aggregator's certificate is refused apart: a chain that no trusted root signed, and
 * a trusted chain that does not name the host dialled (hostname verification). The second throws
 * {@link CertificateNameMismatchException} with the names the certificate holds, so the learner
 * can say which name to dial or which name to add to the certificate instead of suggesting
 * another root.
 *
 * <p>Every check is the delegate's own: this class only re-checks a refused chain without the
 * host to classify the refusal, and never accepts anything the delegate refused.
 */
public final class DiagnosingTrustManager extends X509ExtendedTrustManager {
  private final X509ExtendedTrustManager delegate;

  DiagnosingTrustManager(X509ExtendedTrustManager delegate) {
    this.delegate = delegate;
  }

  /**
   * Returns the JDK's PKIX trust manager for {@code roots} wrapped in a diagnosing one.
   *
   * @param roots the trusted root certificates; null for the JDK's default roots
   * @return the trust manager
   * @throws IllegalStateException if the JDK offers no X.509 trust manager (a broken JRE)
   */
  public static DiagnosingTrustManager forRoots(List<X509Certificate> roots) {
    try {
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      KeyStore store = null;
      if (roots != null) {
        store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        for (int i = 0; i < roots.size(); i++) {
          store.setCertificateEntry("root-" + i, roots.get(i));
        }
      }
      factory.init(store);
      for (TrustManager manager : factory.getTrustManagers()) {
        if (manager instanceof X509ExtendedTrustManager x509) {
          return new DiagnosingTrustManager(x509);
        }
      }
      throw new IllegalStateException("the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot set up the learner's trusted roots: " + e, e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    check(() -> delegate.checkServerTrusted(chain, authType, engine), chain, authType,
        engine == null ? null : engine.getPeerHost());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    check(() -> delegate.checkServerTrusted(chain, authType, socket), chain, authType,
        socket instanceof SSLSocket ssl && ssl.getHandshakeSession() != null
            ? ssl.getHandshakeSession().getPeerHost() : null);
  }

  /** A check of the delegate's. */
  private interface Check {
    void run() throws CertificateException;
  }

  /** Runs the delegate's check with the host, classifying its refusal. */
  private void check(Check withHost, X509Certificate[] chain, String authType, String host)
      throws CertificateException {
    try {
      withHost.run();
    } catch (CertificateException e) {
      throw classify(chain, authType, host, e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType, engine);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType, socket);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }

  /**
   * The refusal to report: a name mismatch if the chain is trusted without the host check and the
   * certificate indeed does not name the host; otherwise the delegate's own refusal.
   */
  private CertificateException classify(X509Certificate[] chain, String authType, String host,
      CertificateException refusal) {
    if (host == null || chain == null || chain.length == 0) {
      return refusal;
    }
    try {
      delegate.checkServerTrusted(chain, authType);
    } catch (CertificateException untrusted) {
      return refusal;
    }
    List<String> names = names(chain[0]);
    if (names.stream().anyMatch(name -> matches(name, host))) {
      return refusal; // refused for another reason than its names
    }
    return new CertificateNameMismatchException(host, names, refusal);
  }

  /** The host names and addresses a server certificate holds: its SANs, else its CN. */
  static List<String> names(X509Certificate certificate) {
    List<String> names = new ArrayList<>();
    try {
      Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
      if (alternatives != null) {
        for (List<?> alternative : alternatives) {
          int type = (Integer) alternative.get(0);
          if (type == 2 || type == 7) { // dNSName, iPAddress (RFC 5280)
            names.add(String.valueOf(alternative.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // Unparsable alternative names: fall back to the CN, as a host check would.
    }
    if (names.isEmpty()) {
      try {
        for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
          if (rdn.getType().equalsIgnoreCase("CN")) {
            names.add(String.valueOf(rdn.getValue()));
          }
        }
      } catch (InvalidNameException e) {
        // The JDK printed this name itself; it parses.
      }
    }
    return names;
  }

  /** Whether a certificate name covers the host: exactly, or as a one-label wildcard. */
  static boolean matches(String name, String host) {
    String n = name.toLowerCase(Locale.ROOT);
    String h = host.toLowerCase(Locale.ROOT);
    if (n.equals(h)) {
      return true;
    }
    int dot = h.indexOf('.');
    return n.startsWith("*.") && dot > 0 && n.substring(1).equals(h.substring(dot));
  }
}
