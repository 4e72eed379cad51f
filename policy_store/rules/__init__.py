"""Pruning rules: declarative, versioned specs and their strategies."""
