"""Augment workspace: views of an image from classic augmentation and from generators conditioned on it."""
