"""The meta-learner: the candidate grid, its training data, the model, its sources, artifacts and store records."""
