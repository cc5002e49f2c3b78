"""reembed: compute templates for the current model version (after changing FACEREC_WEIGHTS)."""

from django.core.management.base import BaseCommand

from recognition import services


class Command(BaseCommand):
    help = ("Embed every approved photo that has no embedding for the current model version. "
            "--background queues it on the workers instead.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--background", action="store_true", help="run as a Celery task on the gpu queue")

    def handle(self, *args, batch_size: int, background: bool, **options):
        if background:
            from recognition.tasks import embed_missing_templates

            result = embed_missing_templates.delay(batch_size=batch_size)
            self.stdout.write(f"queued: job {result.id}")
            return
        total = 0
        while True:
            progress = services.reembed_batch(batch_size=batch_size)
            total += progress["embedded"]
            self.stdout.write(f"embedded {progress['embedded']} ({progress['failed']} failed), "
                              f"{progress['remaining']} left for {progress['model_version']}")
            if not progress["embedded"] or not progress["remaining"]:
                break
        if total:
            services.request_retrain_now()
            self.stdout.write("classifier retrain requested")
