"""Attribution workspace: ground truth for feature attribution by dataset modification (Zhou et al. 2022)."""
