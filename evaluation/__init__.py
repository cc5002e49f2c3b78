"""Evaluation: plain-Python face verification and identification metrics (no Django)."""
