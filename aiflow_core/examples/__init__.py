"""Example workflows shipped with aiflow (the original documentation's examples)."""
