"""verify_audit_log: check the audit log's hash chain against the signed checkpoint, then advance it.

Exit 1 at the first broken link, at an entry the checkpoint names that is gone or rewritten,
or at a checkpoint whose signature does not hold; the checkpoint then stays where it was.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import services as audit


class Command(BaseCommand):
    help = ("Verify the audit log's hash chain and that the entry named by the checkpoint file is still "
            "there unchanged; then move the checkpoint to the last entry.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=Path, default=None,
                            help="checkpoint file (default: FACEREC_AUDIT_CHECKPOINT, var/audit_checkpoint.json); "
                                 "keep it, or a copy, where the database's users cannot write")

    def handle(self, *args, checkpoint: Path | None, **options):
        path = checkpoint or audit.checkpoint_path()
        try:
            previous = audit.read_checkpoint(path)
        except audit.CheckpointInvalid as exc:
            raise CommandError(str(exc)) from exc

        report = audit.verify_chain(previous)
        if not report.ok:
            raise CommandError(f"audit log broken at entry #{report.first_broken_id}: {report.problem} "
                               f"({report.checked} entries before it verified)")

        if report.last is not None:
            audit.write_checkpoint(path, report.last)
        if previous is None:
            start = f"started at entry #{report.last.last_id}" if report.last else "nothing to checkpoint yet"
            self.stdout.write(self.style.WARNING(f"no checkpoint at {path}: {start}"))
        self.stdout.write(self.style.SUCCESS(f"audit log intact: {report.checked} entries verified"
                                             + (f", checkpoint at #{report.last.last_id}" if report.last else "")))
