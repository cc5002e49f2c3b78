from tests.webhooks.conftest import receiver  # noqa: F401 (the local webhook receiver)
