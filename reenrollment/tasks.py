"""Beat-scheduled jobs of re-enrollment: thin and safe to run twice.

Consent expiry (still named `reenrollment.tasks.expire_consents`) is enrollment.tasks.expire_consents.
"""

from celery import shared_task

from reenrollment import services


@shared_task(name="reenrollment.tasks.check_reenrollment")
def check_reenrollment() -> list[int]:
    """Daily: template age, too few photos and drift rules; notifications; expired requests."""
    return [request.pk for request in services.check_identities()]
