"""Drift detectors, monitors over rolling windows of outcomes, and recalibration jobs."""
