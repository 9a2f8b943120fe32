package dev.flops.aggregator.internal;

import dev.flops.proto.codec.Durations;
import dev.flops.proto.codec.WireProtocol;
import dev.flops.proto.v1.AggregatorMessage;
import dev.flops.proto.v1.FederationOutcome;
import dev.flops.proto.v1.Welcome;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learners of the server: who is connected under which id, the identities (learner key to
 * id) that a checkpoint keeps so that a reconnecting learner gets its id back, the names they
 * joined with, and whether the federation has ended (a learner that joins afterwards is told at
 * once).
 *
 * <p>Concurrency: one lock, this object's monitor, guards every change (join, leave, restore,
 * end) and is what {@link #await} waits on; the maps are concurrent so that reads
 * ({@link #available()}, {@link #session}, {@link #name}) take no lock. Nothing is sent to a
 * learner under the lock except its Welcome, which must precede any task on its stream.
 */
final class Membership {
  private static final Logger log = LoggerFactory.getLogger(Membership.class);

  /** How the federation ended; learners that join afterwards are told this. */
  record Ending(FederationOutcome outcome, String reason) {}

  /**
   * What became of a Hello.
   *
   * @param session the new session, or null if the federation had ended (then {@code ending})
   * @param previous the learner's previous session that the new one replaced, or null
   * @param known whether the learner's key had an identity already (it rejoined)
   * @param admitted whether the session may be given tasks (false: it must reconnect with a
   *     keepalive the server permits)
   * @param ending how the federation ended, when it had
   * @param connected the learners connected right after this one was admitted, counted under
   *     the lock, so that join lines logged later still count in admission order
   */
  record Joined(LearnerSession session, LearnerSession previous, boolean known, boolean admitted,
      Ending ending, int connected) {}

  private final Map<String, LearnerSession> sessions = new ConcurrentHashMap<>();
  /** Learner key (Hello.learner_key) to the id that learner was given: its identity. */
  private final Map<String, String> identities = new ConcurrentHashMap<>();
  /** The name each learner id last joined with, for messages that outlive its session. */
  private final Map<String, String> names = new ConcurrentHashMap<>();
  /** Guarded by this. */
  private long lastId;
  /** Set once, under this object's lock, when the federation ends. */
  private volatile Ending ended;

  /** Returns the ids of the learners connected now, in the order they joined. */
  List<String> available() {
    List<LearnerSession> open = new ArrayList<>();
    for (LearnerSession session : sessions.values()) {
      if (session.isOpen()) {
        open.add(session);
      }
    }
    open.sort(Comparator.comparingLong(s -> idNumber(s.id)));
    return open.stream().map(s -> s.id).toList();
  }

  /** Returns the connected session of {@code learnerId}, or null. */
  LearnerSession session(String learnerId) {
    return sessions.get(learnerId);
  }

  /** Returns the name {@code learnerId} last joined with, or null if none joined with it. */
  String name(String learnerId) {
    return names.get(learnerId);
  }

  /** Returns the identities handed out so far, learner key to learner id. */
  Map<String, String> identities() {
    return Map.copyOf(identities);
  }

  /**
   * Waits until at least {@code count} learners are connected, logging a line when the wait
   * starts, whenever the number connected changes, and every {@code progressInterval} while it
   * does not, so that a person watching sees what the aggregator waits for.
   *
   * @throws TimeoutException naming how many came, if fewer than {@code count} came in time
   */
  synchronized List<String> await(int count, Duration timeout, Duration progressInterval)
      throws InterruptedException, TimeoutException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    long nextReport = 0;
    int reported = -1;
    while (true) {
      List<String> available = available();
      if (available.size() >= count) {
        return available;
      }
      long now = System.nanoTime();
      if (reported < 0) {
        log.info("waiting for learners: {} of {} connected (waiting up to {})",
            available.size(), count, Durations.forPeople(timeout));
      } else if (available.size() != reported || now - nextReport >= 0) {
        log.info("still waiting for learners: {} of {} connected ({} of {})", available.size(),
            count, Durations.forPeople(Duration.ofMillis((now - start) / 1_000_000)),
            Durations.forPeople(timeout));
      }
      if (available.size() != reported || now - nextReport >= 0) {
        reported = available.size();
        nextReport = now + progressInterval.toNanos();
      }
      long left = deadline - now;
      if (left <= 0) {
        throw new TimeoutException(String.format(
            "only %d of the %d learners needed connected within %s; start more learners or "
                + "lower minAvailableLearners", available.size(), count,
            Durations.forPeople(timeout)));
      }
      wait(Math.max(1, Math.min(left, nextReport - now) / 1_000_000));
    }
  }

  /**
   * Admits a learner that said Hello: gives it its identity's id (a new one for a new key or no
   * key), sends its Welcome, and makes it the connected session of that id unless its keepalive
   * pings more often than the server permits.
   *
   * @param pingMillis the learner's keepalive as its Hello says, 0 if not said
   * @param permitMillis the server's permitKeepAliveTime, told to the learner in Welcome
   * @param inlineBytes the most data bytes sent inline each way with this learner, told to it in
   *     Welcome; 0: none (see {@link LearnerSession#inlineBytes})
   */
  synchronized Joined join(String name, String key, Caller caller,
      StreamObserver<AggregatorMessage> outbound, long pingMillis, long permitMillis,
      long inlineBytes) {
    Ending ending = ended;
    if (ending != null) {
      return new Joined(null, null, false, false, ending, available().size());
    }
    boolean known = !key.isEmpty() && identities.containsKey(key);
    String id = key.isEmpty() ? newId() : identities.computeIfAbsent(key, k -> newId());
    LearnerSession session = new LearnerSession(id, name, caller, outbound);
    session.inlineBytes = inlineBytes;
    names.put(id, name);
    session.send(AggregatorMessage.newBuilder()
        .setEnvelope(WireProtocol.envelope(0))
        .setWelcome(Welcome.newBuilder().setLearnerId(id).setPermitKeepaliveTimeMs(permitMillis)
            .setMaxInlineUpdateBytes(inlineBytes))
        .build());
    if (pingMillis > 0 && pingMillis < permitMillis) {
      return new Joined(session, null, known, false, null, available().size());
    }
    LearnerSession previous = sessions.put(id, session);
    notifyAll();
    return new Joined(session, previous, known, true, null, available().size());
  }

  /**
   * Removes a session that ended, unless its learner has reconnected meanwhile (a newer session
   * holds its id).
   *
   * @return whether {@code session} was the connected one
   */
  synchronized boolean leave(LearnerSession session) {
    boolean current = sessions.remove(session.id, session);
    if (current) {
      notifyAll();
    }
    return current;
  }

  /**
   * Restores identities saved with a checkpoint. A learner that joined before (to this new
   * server, so with a fresh id) and whose key was saved under another id, or whose fresh id now
   * belongs to another identity, is removed: the caller asks it to reconnect, and it then joins
   * with its saved id. Renumbering keeps the order the learners joined in, as sampling orders by
   * id.
   *
   * @return the sessions removed, to be asked to reconnect
   */
  synchronized List<LearnerSession> restore(Map<String, String> saved) {
    for (String id : saved.values()) {
      lastId = Math.max(lastId, idNumber(id));
    }
    Set<String> savedIds = new HashSet<>(saved.values());
    Set<String> keyedIds = new HashSet<>(identities.values());
    List<LearnerSession> moved = new ArrayList<>();
    List<Map.Entry<String, String>> joined = new ArrayList<>(identities.entrySet());
    joined.sort(Comparator.comparingLong(entry -> idNumber(entry.getValue())));
    for (Map.Entry<String, String> identity : joined) {
      String now = identity.getValue();
      String restored = saved.containsKey(identity.getKey()) ? saved.get(identity.getKey())
          : savedIds.contains(now) ? newId() : now;
      if (!restored.equals(now)) {
        identity.setValue(restored);
        LearnerSession session = sessions.remove(now);
        if (session != null) {
          moved.add(session);
        }
      }
    }
    saved.forEach(identities::putIfAbsent);
    // A learner without a key has no identity to keep; one whose fresh id is now another's must
    // take a new one.
    sessions.values().removeIf(session -> savedIds.contains(session.id)
        && !keyedIds.contains(session.id) && moved.add(session));
    return moved;
  }

  /**
   * Ends the federation: from now on a learner that joins is told {@code ending} instead of being
   * admitted. Only the first call's outcome counts.
   *
   * @return how it ended (the first call's) and the sessions connected until now, to be told
   */
  synchronized Map.Entry<Ending, List<LearnerSession>> end(Ending ending) {
    if (ended == null) {
      ended = ending;
    }
    List<LearnerSession> open = List.copyOf(sessions.values());
    sessions.clear();
    notifyAll();
    return Map.entry(ended, open);
  }

  /** Guarded by this. */
  private String newId() {
    return "learner-" + ++lastId;
  }

  static long idNumber(String id) {
    try {
      return Long.parseLong(id.substring(id.lastIndexOf('-') + 1));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
