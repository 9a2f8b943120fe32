package dev.flops.learner.internal;

import java.security.cert.CertificateException;
import java.util.List;

/**
 * The aggregator's certificate chains to a trusted root but does not name the host the learner
 * dialled: a different fault from an untrusted certificate, with a different fix (dial a name the
 * certificate holds, or reissue it with this name), so it gets its own type and message.
 */
public final class CertificateNameMismatchException extends CertificateException {
  private static final long serialVersionUID = 1L;

  private final String host;
  private final List<String> names;

  /**
   * Creates the exception.
   *
   * @param host the host the learner dialled
   * @param names the names the certificate holds (subject alternative names, or its CN without
   *     any)
   * @param cause the failure the JDK's check reported
   */
  public CertificateNameMismatchException(String host, List<String> names,
      CertificateException cause) {
    super(describe(host, names), cause);
    this.host = host;
    this.names = List.copyOf(names);
  }

  /** Returns the host the learner dialled. */
  public String host() {
    return host;
  }

  /** Returns the names the certificate holds. */
  public List<String> names() {
    return names;
  }

  private static String describe(String host, List<String> names) {
    return "the aggregator's certificate is trusted but does not name the host dialled, " + host
        + ": it names " + (names.isEmpty() ? "no host at all" : String.join(", ", names));
  }
}
