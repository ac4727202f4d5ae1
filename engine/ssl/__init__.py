"""Self-supervised representation learning: backbones, joint-embedding methods, training and probes."""
