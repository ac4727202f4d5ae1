"""The demo: a bundled Fashion-MNIST subset, a small CNN, its training job and its predict op."""
