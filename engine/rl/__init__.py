"""Relational reinforcement learning: the Box-World environments, agents and their training."""
