package dev.flops.proto.security;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Which hosts keep traffic on this machine; plaintext elsewhere deserves a warning. */
public final class Hosts {
  private Hosts() {}

  /**
   * Tells whether a host is a loopback address (such as {@code 127.0.0.1} or {@code localhost}).
   *
   * @param host a host name or IP address
   * @return true if it resolves to a loopback address; false otherwise, also for the wildcard
   *     {@code 0.0.0.0} and for names that do not resolve
   */
  public static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
