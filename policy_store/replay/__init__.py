"""The vectorised replay engine: rule versions over recorded studies."""
