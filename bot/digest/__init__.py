"""Digests for investigators: aggregation under k-anonymity, rendering, and the chart."""
