package dev.flops.api.app;

import dev.flops.api.FederatedModel;
import dev.flops.api.LocalTrainer;
import dev.flops.api.strategy.FedAvg;
import dev.flops.api.strategy.Strategy;

/** Small apps that {@link FederatedAppsTest} packs into jars. */
final class TestApps {
  private TestApps() {}

  /** An app that makes no model (the loader never asks for one) and refuses unknown tags. */
  public static class GoodApp implements FederatedApp {
    @Override
    public String name() {
      return "good";
    }

    @Override
    public FederatedModel newModel() {
      throw new UnsupportedOperationException("the loader tests never make a model");
    }

    @Override
    public LocalTrainer newTrainer(LearnerContext context) {
      throw new IllegalArgumentException("unknown data tag '" + context.dataTags().get(0)
          + "'; this app accepts none");
    }

    @Override
    public Strategy strategy() {
      return FedAvg.withDefaults();
    }
  }

  /** A second app, for a jar that declares two. */
  public static class OtherApp extends GoodApp {
    @Override
    public String name() {
      return "other";
    }
  }

  /** An app whose constructor fails, as one that reads a missing setting would. */
  public static class ThrowingApp extends GoodApp {
    public ThrowingApp() {
      throw new IllegalStateException("setting app.home is missing");
    }
  }
}
