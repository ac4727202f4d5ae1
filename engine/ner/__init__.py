"""Named-entity recognition with deep active learning (Shen et al., ICLR 2018)."""
