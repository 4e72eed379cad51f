"""Judging the meta-learner: grouped splits, baselines and oracles, dominance, cross-validation and leave-out rows."""
