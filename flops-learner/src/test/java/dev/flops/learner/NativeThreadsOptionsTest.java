package dev.flops.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code --native-threads}: values, and a learner without ND4J (this module's tests run without
 * it, as a learner whose model is not DL4J does). Its effect on ND4J is shown by the examples'
 * FrontDoorProcessesTest, with learner processes that read the setting back from ND4J.
 */
class NativeThreadsOptionsTest {

  @Test
  void parse_acceptsAutoAndCounts_andRejectsTheRestNamingTheValue() {
    assertEquals(0, NativeThreadsOptions.parse("auto"));
    assertEquals(3, NativeThreadsOptions.parse("3"));
    for (String bad : List.of("0", "-1", "two", "1025", "")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> NativeThreadsOptions.parse(bad));
      assertEquals("--native-threads must be auto or a whole number from 1 to 1024 but was '"
          + bad + "'", e.getMessage());
    }
  }

  @Test
  void withoutNd4j_autoDoesNothing_andACountIsRefused() {
    NativeThreadsOptions options = new NativeThreadsOptions();
    assertEquals(0, options.apply(LearnerMain.class.getName()));
    options.nativeThreads = "2";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> options.apply(LearnerMain.class.getName()));
    assertEquals("--native-threads 2 sizes ND4J's threads, but ND4J is not on this learner's "
        + "classpath; drop the option", e.getMessage());
  }

  @Test
  void processesOnThisHost_countsThisOneAndOthersRunningTheMainClass() throws Exception {
    String marker = "dev.flops.learner.NativeThreadsOptionsTest$NoSuchMain";
    assertEquals(1, NativeThreadsOptions.processesOnThisHost(marker));
    // A real process whose command line names the marker, as a learner's names its main class.
    Process other = new ProcessBuilder("sh", "-c", "sleep 30; true", marker).start();
    try {
      assertEquals(2, NativeThreadsOptions.processesOnThisHost(marker));
    } finally {
      other.destroy();
    }
  }
}
