"""Webhook tasks (default queue): send one delivery; the sweep that sends what is due and was lost."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="webhooks.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    from webhooks import delivery  # services import this module at their top

    return delivery.deliver(delivery_id)


@shared_task(name="webhooks.tasks.send_due_webhooks", ignore_result=True)
def send_due_webhooks() -> int:
    from webhooks import services  # services import this module at their top

    return services.queue_due()


@shared_task(name="webhooks.tasks.drain_subscription", ignore_result=True)
def drain_subscription(subscription_id: int, nudged_at: float) -> int:
    from webhooks import delivery  # services import this module at their top

    return delivery.drain(subscription_id, nudged_at=nudged_at)


@shared_task(name="webhooks.tasks.delete_old_webhook_events", ignore_result=True)
def delete_old_webhook_events() -> int:
    from webhooks import services  # services import this module at their top

    return services.delete_old_events()
