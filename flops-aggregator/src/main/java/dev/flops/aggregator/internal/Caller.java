package dev.flops.aggregator.internal;

/**
 * Who a call comes from, as far as its transport authenticated it: the learner its per-learner
 * token belongs to, and the certificate it presented with mutual TLS. Both are null where that
 * mode is off (plaintext, TLS without client certificates, a shared token): there only a task's
 * capability tells its owner apart.
 *
 * @param tokenName the learner the token belongs to, or null
 * @param certificateSubject the subject of the learner's certificate, or null
 */
record Caller(String tokenName, String certificateSubject) {
  /** The caller of the call being handled. */
  static Caller current() {
    LearnerCertificate certificate = LearnerCertificate.CURRENT.get();
    return new Caller(LearnerAuthenticator.AUTHENTICATED_NAME.get(),
        certificate == null ? null : certificate.subject());
  }
}
