"""Keeping templates fresh: re-enrollment requests, drift monitoring, consent expiry (Celery beat jobs)."""
