"""Integrations with HPO frameworks (Optuna)."""
