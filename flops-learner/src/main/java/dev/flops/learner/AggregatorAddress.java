package dev.flops.learner;

import java.util.Objects;

/**
 * Where a learner finds its aggregator: {@code host:port}, or {@code [v6-address]:port}.
 *
 * @param host a host name or IP address
 * @param port from 1 to 65535
 */
public record AggregatorAddress(String host, int port) {

  /**
   * Validates the address.
   *
   * @throws IllegalArgumentException if the host is blank or the port out of range
   */
  public AggregatorAddress {
    Objects.requireNonNull(host, "host");
    if (host.isBlank()) {
      throw new IllegalArgumentException("the aggregator host must not be blank");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "the aggregator port must be in [1, 65535] but was " + port);
    }
  }

  /**
   * Parses {@code host:port}.
   *
   * @param address e.g. {@code 10.0.0.5:50051}, {@code aggregator.example.com:50051} or
   *     {@code [::1]:50051}
   * @return the address
   * @throws IllegalArgumentException if the text is not of that form
   */
  public static AggregatorAddress parse(String address) {
    Objects.requireNonNull(address, "address");
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException(
          "aggregator address '" + address + "' is not of the form host:port, e.g. 127.0.0.1:50051");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    try {
      return new AggregatorAddress(host, Integer.parseInt(address.substring(colon + 1)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "aggregator address '" + address + "' has a port that is not a number", e);
    }
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
