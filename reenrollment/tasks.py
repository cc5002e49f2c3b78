"""Beat-scheduled jobs of re-enrollment: thin and safe to run twice."""

from celery import shared_task

from reenrollment import services


@shared_task(name="reenrollment.tasks.check_reenrollment")
def check_reenrollment() -> list[int]:
    """Daily: template age, too few photos and drift rules; notifications; expired requests."""
    return [request.pk for request in services.check_identities()]


@shared_task(name="reenrollment.tasks.expire_consents")
def expire_consents() -> list[int]:
    """Daily: templates of identities whose consent expired go off; erasure follows the grace period."""
    return services.expire_consents()
