"""Adapting inside a study: the selector re-scoring candidates on completed trials, its replay, advice, worker."""
