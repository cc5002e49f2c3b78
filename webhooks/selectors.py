"""Webhook reads: subscriptions, their deliveries with the attempts, and what is still to send."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from webhooks.models import Delivery, DeliveryAttempt, Subscription


def subscriptions() -> QuerySet[Subscription]:
    return Subscription.objects.annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING))).order_by("id")


def deliveries(*, subscription_id: int, status: str | None = None) -> QuerySet[Delivery]:
    rows = (Delivery.objects.filter(subscription_id=subscription_id).select_related("event")
            .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("id")))
            .order_by("-id"))
    return rows.filter(status=status) if status else rows


def pending_deliveries_count() -> int:
    """For the home page and the metrics: deliveries not yet accepted by their receiver."""
    return Delivery.objects.filter(status=Delivery.Status.PENDING).count()
