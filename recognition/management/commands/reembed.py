"""reembed: templates for a model version, so a model change switches over without a gap.

1. `manage.py reembed --weights NEXT` (or `--background`) embeds every approved photo with
   the next weights while the platform keeps serving FACEREC_WEIGHTS, then trains that
   version's classifier.
2. When it reports nothing left, set FACEREC_WEIGHTS=NEXT and restart: identification
   then finds complete templates and a ready classifier for the new version.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recognition import services
from recognition.pipeline.errors import WeightsUnavailable
from recognition.tasks import embed_missing_templates


class Command(BaseCommand):
    help = "Embed every approved photo lacking an embedding for --weights (default: FACEREC_WEIGHTS)."

    def add_arguments(self, parser):
        parser.add_argument("--weights", default=None,
                            help="casia-webface, vggface2 or a state_dict path (default: FACEREC_WEIGHTS)")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--background", action="store_true", help="run as a Celery task on the gpu queue")

    def handle(self, *args, weights: str | None, batch_size: int, background: bool, **options):
        weights = weights or settings.FACEREC_WEIGHTS
        if background:
            result = embed_missing_templates.delay(batch_size=batch_size, weights=weights)
            self.stdout.write(f"queued: job {result.id}")
            return
        total = 0
        try:
            while True:
                progress = services.reembed_batch(batch_size=batch_size, weights=weights)
                total += progress["embedded"]
                self.stdout.write(f"embedded {progress['embedded']} ({progress['failed']} failed), "
                                  f"{progress['remaining']} left for {progress['model_version']}")
                if not progress["embedded"] or not progress["remaining"]:
                    break
        except WeightsUnavailable as exc:
            raise CommandError(str(exc))
        if total:
            services.request_retrain_now(model_version=progress["model_version"])
            self.stdout.write(f"classifier retrain requested for {progress['model_version']}")
        if not progress["remaining"] and weights != settings.FACEREC_WEIGHTS:
            self.stdout.write(f"templates complete: set FACEREC_WEIGHTS={weights} and restart to switch over")
