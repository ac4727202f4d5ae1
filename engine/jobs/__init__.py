"""Jobs: registered engine functions with validated specs, run in spawned worker processes."""
