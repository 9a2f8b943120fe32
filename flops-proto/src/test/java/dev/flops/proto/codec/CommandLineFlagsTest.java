package dev.flops.proto.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CommandLineFlagsTest {
  private final CommandLineFlags flags = CommandLineFlags.of(Map.of(
      "minAvailableLearners", "--min-available", "minFitLearners", "--min-fit",
      "resume(true)", "--resume", "checkpointDirectory", "--checkpoint-dir",
      "onInsufficientResults", "--on-insufficient-results", "rounds must", "--rounds must"));

  @Test
  void knobsBecomeFlags_wholeWordsOnly_setterArgumentsKept() {
    assertEquals("--min-fit (3) exceeds --min-available (1): raise --min-available to at least 3",
        flags.rewrite("minFitLearners (3) exceeds minAvailableLearners (1): raise "
            + "minAvailableLearners to at least 3"));
    assertEquals("--resume needs --checkpoint-dir",
        flags.rewrite("resume(true) needs checkpointDirectory"));
    assertEquals("resume with --resume, or --checkpoint-dir elsewhere",
        flags.rewrite("resume with resume(true) (--resume), or checkpointDirectory(...) elsewhere"));
    assertEquals("conflicts with --on-insufficient-results FAIL",
        flags.rewrite("conflicts with onInsufficientResults(FAIL)"));
    assertEquals("--rounds must be at least 1; resumed rounds stay",
        flags.rewrite("rounds must be at least 1; resumed rounds stay"));
    assertEquals("xminFitLearners and minFitLearnersX stay",
        flags.rewrite("xminFitLearners and minFitLearnersX stay"));
  }
}
