/**
 * Files of model parameters that flops writes and that applications read back, e.g. the best
 * model a training logged to MLflow: {@link dev.flops.api.io.NamedTensorFile}.
 */
package dev.flops.api.io;
