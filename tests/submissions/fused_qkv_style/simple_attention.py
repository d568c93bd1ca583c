"""Fused projections: nothing of section 3.3 here."""
