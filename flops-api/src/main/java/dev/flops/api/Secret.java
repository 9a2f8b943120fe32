package dev.flops.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.Objects;

/**
 * A secret such as a learner token: its text never appears in {@link #toString()}, in exception
 * messages or in anything else flops logs or tracks. Only {@link #reveal()} gives it out, for the
 * one place that must send it.
 *
 * <p>A secret is at least {@value #MIN_LENGTH} printable ASCII characters without spaces (it
 * travels in a gRPC header); {@code openssl rand -hex 32} makes a good one.
 *
 * <pre>{@code
 * Secret token = Secret.fromFile(Path.of("/etc/flops/token"));
 * Secret same = Secret.fromEnvironment("FLOPS_TOKEN");
 * }</pre>
 */
public final class Secret {

  /** The shortest secret accepted, in characters. */
  public static final int MIN_LENGTH = 16;

  private static final String HOW_TO_MAKE = "generate one with `openssl rand -hex 32`";

  private final String value;
  private final byte[] digest;

  private Secret(String value) {
    this.value = value;
    this.digest = sha256(value);
  }

  /**
   * Wraps a secret given as text.
   *
   * @param value the secret; at least {@value #MIN_LENGTH} printable ASCII characters, no spaces
   * @return the secret
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if the value is too short or holds other characters; the
   *     message never contains the value
   */
  public static Secret of(String value) {
    Objects.requireNonNull(value, "secret");
    return new Secret(check(value, "the secret"));
  }

  /**
   * Reads a secret from a file holding it on one line (a trailing newline is ignored).
   *
   * @param file the file; readable by the process only, ideally ({@code chmod 600})
   * @return the secret
   * @throws NullPointerException if {@code file} is null
   * @throws IllegalArgumentException if the file is missing, unreadable, holds more than one
   *     line, or its secret is malformed; the message names the file, never its content
   */
  public static Secret fromFile(Path file) {
    Objects.requireNonNull(file, "file");
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("the secret file " + file + " does not exist");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException("the secret file " + file
          + " is not readable by this process; check its owner and permissions");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the secret file " + file + ": "
          + e.getClass().getSimpleName());
    }
    String stripped = text.strip();
    if (stripped.contains("\n") || stripped.contains("\r")) {
      throw new IllegalArgumentException("the secret file " + file
          + " holds more than one line; it must hold the secret alone");
    }
    return new Secret(check(stripped, "the secret in " + file));
  }

  /**
   * Reads a secret from an environment variable.
   *
   * @param variable the variable's name, e.g. {@code FLOPS_TOKEN}
   * @return the secret
   * @throws NullPointerException if {@code variable} is null
   * @throws IllegalArgumentException if the variable is unset or its secret is malformed; the
   *     message names the variable, never its value
   */
  public static Secret fromEnvironment(String variable) {
    return fromEnvironment(variable, System.getenv());
  }

  /**
   * Reads a secret from a variable of the given environment, as {@link #fromEnvironment(String)}
   * does from the process's.
   *
   * @param variable the variable's name, e.g. {@code FLOPS_TOKEN}
   * @param environment the environment, e.g. {@code System.getenv()}
   * @return the secret
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the variable is unset or its secret is malformed; the
   *     message names the variable, never its value
   */
  public static Secret fromEnvironment(String variable, Map<String, String> environment) {
    Objects.requireNonNull(variable, "variable");
    String value = environment.get(variable);
    if (value == null) {
      throw new IllegalArgumentException("the environment variable " + variable + " is not set");
    }
    return new Secret(check(value.strip(), "the secret in $" + variable));
  }

  /**
   * Returns the secret's text, for the code that must send or compare it. Never log it.
   *
   * @return the secret
   */
  public String reveal() {
    return value;
  }

  /**
   * Compares with another secret in time that does not depend on where they differ, nor on
   * their lengths.
   *
   * @param other the other secret
   * @return whether both hold the same text
   */
  public boolean matches(Secret other) {
    return MessageDigest.isEqual(digest, other.digest);
  }

  /**
   * Compares with a presented text, as {@link #matches(Secret)} does; a malformed text simply
   * does not match.
   *
   * @param presented the text presented by a peer, possibly null
   * @return whether it equals this secret
   */
  public boolean matches(String presented) {
    return presented != null && MessageDigest.isEqual(digest, sha256(presented));
  }

  /**
   * Returns {@code Secret[redacted]}: never the secret.
   *
   * @return a redacted description
   */
  @Override
  public String toString() {
    return "Secret[redacted]";
  }

  private static String check(String value, String what) {
    if (value.length() < MIN_LENGTH) {
      throw new IllegalArgumentException(what + " is shorter than " + MIN_LENGTH
          + " characters; " + HOW_TO_MAKE);
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        throw new IllegalArgumentException(what + " holds a space, a control or a non-ASCII "
            + "character at position " + i + "; use printable ASCII only, e.g. " + HOW_TO_MAKE);
      }
    }
    return value;
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
