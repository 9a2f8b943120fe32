/**
 * Fashion-MNIST for the examples: {@link dev.flops.examples.fashion.IdxReader} reads IDX files,
 * {@link dev.flops.examples.fashion.FashionMnist} finds and loads the data set (a given directory,
 * the Debian package, or an embedded 12000/2000 subset), and {@link
 * dev.flops.examples.fashion.Partitioning} splits it across learners (IID, Dirichlet label skew, or
 * k labels per learner).
 */
package dev.flops.examples.fashion;
