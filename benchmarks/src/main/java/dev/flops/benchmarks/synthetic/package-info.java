/**
 * A synthetic federated workload for the round harness: a model of {@code P} float32 parameters
 * and a learner that returns what it received plus small noise, so that a round costs only the
 * aggregator's work and the wire.
 */
package dev.flops.benchmarks.synthetic;
