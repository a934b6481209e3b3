"""Figures with intervals: metrics, calibration, comparison with the parent, the heat map's check."""
