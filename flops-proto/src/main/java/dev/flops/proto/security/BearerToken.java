package dev.flops.proto.security;

import dev.flops.api.Secret;
import io.grpc.Metadata;

/**
 * How a learner's token travels: the gRPC header {@code authorization: Bearer <token>} on every
 * call. Shared by both sides; not an API.
 */
public final class BearerToken {

  /** The header carrying the token. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private static final String SCHEME = "Bearer ";

  private BearerToken() {}

  /**
   * Returns the headers a learner attaches to every call.
   *
   * @param token the learner's token
   * @return headers holding {@code authorization: Bearer <token>}
   */
  public static Metadata headers(Secret token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, SCHEME + token.reveal());
    return headers;
  }

  /**
   * Returns the token a call presents.
   *
   * @param headers the call's headers
   * @return the token, or null if the call has no {@code authorization: Bearer} header
   */
  public static String presented(Metadata headers) {
    String value = headers.get(AUTHORIZATION);
    if (value == null || !value.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
      return null;
    }
    return value.substring(SCHEME.length()).strip();
  }
}
