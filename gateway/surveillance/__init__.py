"""Post-market surveillance at each clinic: audit cases, measured performance, own thresholds.

gateway.surveillance.statistics holds the statistics and imports nothing of the gateway's.
"""
