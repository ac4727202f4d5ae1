"""Core services shared by every engine module: errors, paths, settings, device, seeding, logging."""
