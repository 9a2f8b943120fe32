package dev.flops.aggregator.internal.tracking;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The credentials of a tracking server, found where MLflow's own clients look for them: {@value
 * #USERNAME_ENV} and {@value #PASSWORD_ENV} (HTTP basic authentication), else {@value #TOKEN_ENV}
 * (a bearer token), else a {@code user:password@} in the tracking URI. They go into the {@code
 * Authorization} header of every request, artifact uploads included, and nowhere else: {@link
 * #redact} removes them from any text before it is logged or put into an exception.
 */
final class Credentials {
  static final String USERNAME_ENV = "MLFLOW_TRACKING_USERNAME";
  static final String PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD";
  static final String TOKEN_ENV = "MLFLOW_TRACKING_TOKEN";
  private static final Pattern URL_USERINFO = Pattern.compile("(?i)(https?://)[^/@\\s]*@");
  private static final Credentials NONE = new Credentials(null, List.of());

  private final String authorization;
  private final List<String> secrets;

  private Credentials(String authorization, List<String> secrets) {
    this.authorization = authorization;
    this.secrets = secrets;
  }

  /**
   * Picks the credentials as MLflow does: basic authentication from the environment first, then a
   * token from the environment, then the URI's user information.
   *
   * @throws IllegalArgumentException naming the variable when only one of username and password
   *     is set (the value is never shown)
   */
  static Credentials from(Map<String, String> environment, URI server) {
    String user = blankToNull(environment.get(USERNAME_ENV));
    String password = blankToNull(environment.get(PASSWORD_ENV));
    String token = blankToNull(environment.get(TOKEN_ENV));
    if ((user == null) != (password == null)) {
      throw new IllegalArgumentException(String.format("%s is set but %s is not; set both for "
              + "HTTP basic authentication to the tracking server, or neither",
          user == null ? PASSWORD_ENV : USERNAME_ENV, user == null ? USERNAME_ENV : PASSWORD_ENV));
    }
    if (user != null) {
      return basic(user, password);
    }
    if (token != null) {
      return new Credentials("Bearer " + token, List.of(token));
    }
    String userInfo = server.getRawUserInfo();
    if (userInfo != null && !userInfo.isEmpty()) {
      int colon = userInfo.indexOf(':');
      String name = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
      String secret = colon < 0 ? "" : decode(userInfo.substring(colon + 1));
      Credentials credentials = basic(name, secret);
      List<String> all = new ArrayList<>(credentials.secrets);
      all.add(userInfo);
      return new Credentials(credentials.authorization, List.copyOf(all));
    }
    return NONE;
  }

  private static Credentials basic(String user, String password) {
    String encoded = Base64.getEncoder()
        .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    List<String> secrets = new ArrayList<>(List.of(encoded));
    if (!password.isEmpty()) {
      secrets.add(password);
    }
    return new Credentials("Basic " + encoded, List.copyOf(secrets));
  }

  /** The value of the Authorization header, if there are credentials. */
  Optional<String> authorization() {
    return Optional.ofNullable(authorization);
  }

  /** Removes URL user information and every credential from a text meant for a log or a message. */
  String redact(String text) {
    if (text == null) {
      return null;
    }
    String result = redactUserInfo(text);
    for (String secret : secrets) {
      if (!secret.isEmpty()) {
        result = result.replace(secret, "***");
      }
    }
    return result;
  }

  /** Writes a URL without its user information ({@code http://user:pw@host} becomes {@code http://***@host}). */
  static String redactUserInfo(String text) {
    return text == null ? null : URL_USERINFO.matcher(text).replaceAll("$1***@");
  }

  /** The server URI without user information, as it may be printed and compared. */
  static URI withoutUserInfo(URI server) {
    if (server.getRawUserInfo() == null) {
      return server;
    }
    try {
      return new URI(server.getScheme(), null, server.getHost(), server.getPort(),
          server.getPath(), server.getQuery(), server.getFragment());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("the tracking URI cannot be rewritten without its "
          + "credentials: " + redactUserInfo(server.toString()), e);
    }
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  @Override
  public String toString() {
    return authorization == null ? "Credentials[none]"
        : "Credentials[" + authorization.substring(0, authorization.indexOf(' ')) + " ***]";
  }
}
