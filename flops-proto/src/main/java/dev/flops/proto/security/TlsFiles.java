package dev.flops.proto.security;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and checks the PEM files TLS needs, so that a missing, unreadable, malformed, expired or
 * mismatched file fails when the aggregator or learner is built, with a message naming the file
 * and the fix, rather than as an obscure handshake error later. Shared by both sides; not an API.
 */
public final class TlsFiles {
  private static final Pattern PEM_BLOCK = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");

  private TlsFiles() {}

  /**
   * Reads the certificates of a PEM file: a chain (leaf first) or a set of trusted roots.
   *
   * @param file the file
   * @param what what the file is for, e.g. "the aggregator's certificate chain", used in messages
   * @return the certificates, at least one
   * @throws IllegalArgumentException if the file is missing, unreadable, holds no PEM
   *     certificate, or one of its certificates is expired or not yet valid
   */
  public static List<X509Certificate> certificates(Path file, String what) {
    String text = readText(file, what);
    List<X509Certificate> certificates = new ArrayList<>();
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      for (byte[] der : blocks(text, "CERTIFICATE")) {
        certificates.add((X509Certificate) factory.generateCertificate(
            new ByteArrayInputStream(der)));
      }
    } catch (CertificateException | IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " " + file + " holds a malformed certificate: "
          + e.getMessage());
    }
    if (certificates.isEmpty()) {
      throw new IllegalArgumentException(what + " " + file + " holds no PEM certificate "
          + "(a block starting -----BEGIN CERTIFICATE-----)");
    }
    for (X509Certificate certificate : certificates) {
      try {
        certificate.checkValidity();
      } catch (CertificateExpiredException e) {
        throw new IllegalArgumentException(String.format("%s %s holds a certificate (%s) that "
            + "expired on %s; make a new one", what, file, subject(certificate),
            certificate.getNotAfter().toInstant()));
      } catch (CertificateNotYetValidException e) {
        throw new IllegalArgumentException(String.format("%s %s holds a certificate (%s) that "
            + "is valid only from %s; check this machine's clock", what, file,
            subject(certificate), certificate.getNotBefore().toInstant()));
      }
    }
    return certificates;
  }

  /**
   * Checks a certificate chain and its private key: both readable, the key unencrypted PKCS#8
   * PEM, and the key the one of the chain's first certificate (checked by signing and
   * verifying).
   *
   * @param certificateChain the PEM chain, leaf first
   * @param privateKey the PEM private key
   * @param what whose pair it is, e.g. "the aggregator's", used in messages
   * @throws IllegalArgumentException if anything is wrong; the message never contains the key
   */
  public static void checkKeyPair(Path certificateChain, Path privateKey, String what) {
    X509Certificate leaf = certificates(certificateChain, what + " certificate chain").get(0);
    String text = readText(privateKey, what + " private key");
    if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
      throw new IllegalArgumentException(what + " private key " + privateKey + " is encrypted; "
          + "flops reads unencrypted PKCS#8 keys: `openssl pkcs8 -topk8 -nocrypt -in "
          + privateKey + " -out key.pem` (then chmod 600 key.pem)");
    }
    List<byte[]> keys = blocks(text, "PRIVATE KEY");
    if (keys.size() != 1) {
      boolean legacy = text.contains("-----BEGIN RSA PRIVATE KEY-----")
          || text.contains("-----BEGIN EC PRIVATE KEY-----");
      throw new IllegalArgumentException(what + " private key " + privateKey
          + (legacy
              ? " is in the legacy PKCS#1/SEC1 format; convert it to PKCS#8: `openssl pkcs8 "
                  + "-topk8 -nocrypt -in " + privateKey + " -out key.pem`"
              : " must hold exactly one PEM block -----BEGIN PRIVATE KEY----- (PKCS#8) but "
                  + "holds " + keys.size()));
    }
    String algorithm = leaf.getPublicKey().getAlgorithm();
    PrivateKey key;
    try {
      key = KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(keys.get(0)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(String.format("%s private key %s is not a %s key like "
          + "the certificate in %s (%s); they do not belong together", what, privateKey,
          algorithm, certificateChain, subject(leaf)));
    }
    if (!signsFor(key, leaf, algorithm)) {
      throw new IllegalArgumentException(String.format("%s private key %s does not belong to "
          + "the certificate in %s (%s); give the key the certificate was made for", what,
          privateKey, certificateChain, subject(leaf)));
    }
  }

  private static boolean signsFor(PrivateKey key, X509Certificate certificate, String algorithm) {
    String signatureAlgorithm = switch (algorithm.toUpperCase(Locale.ROOT)) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      default -> algorithm; // Ed25519, Ed448, EdDSA name their own signature
    };
    byte[] challenge = "flops key pair check".getBytes(StandardCharsets.US_ASCII);
    try {
      Signature signer = Signature.getInstance(signatureAlgorithm);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(signatureAlgorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(challenge);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /**
   * Reads a small security file (PEM, tokens) as text, failing with a message that names the
   * file and what it is for, never its content.
   *
   * @param file the file
   * @param what what the file is for, e.g. "the learner tokens file"
   * @return the file's text
   * @throws IllegalArgumentException if the file is missing, unreadable or a directory
   */
  public static String readText(Path file, String what) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(what + " " + file + " does not exist");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(what + " " + file
          + " is not readable by this process; check its owner and permissions");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + what + " " + file + ": "
          + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage()));
    }
  }

  private static List<byte[]> blocks(String text, String type) {
    List<byte[]> blocks = new ArrayList<>();
    Matcher matcher = PEM_BLOCK.matcher(text);
    while (matcher.find()) {
      if (matcher.group(1).equals(type)) {
        blocks.add(Base64.getMimeDecoder().decode(matcher.group(2)));
      }
    }
    return blocks;
  }

  private static String subject(X509Certificate certificate) {
    return certificate.getSubjectX500Principal().getName();
  }
}
