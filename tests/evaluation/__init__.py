"""Tests for evaluation (plain Python)."""
