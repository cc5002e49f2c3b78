"""verify_audit_log: check the audit log's hash chain; exit 1 at the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from identities.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and report the first broken link."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            raise CommandError(f"audit log broken at entry #{report.first_broken_id}: {report.problem} "
                               f"({report.checked} entries before it verified)")
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {report.checked} entries verified"))
