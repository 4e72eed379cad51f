"""Meta-features of tasks and the meta-learner that recommends pruning rules."""
