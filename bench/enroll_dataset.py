"""Enroll the first N photos of each person of a folder-per-identity dataset (a benchmark helper).

    .venv/bin/python bench/enroll_dataset.py --folder ../shared/data/att_faces --photos 5 [--people 40]

Goes through the platform's own services, as an upload would: an identity and a
consent record per person (wording "benchmark"), `enroll_photos`, then each photo
is processed here in-process (detect, quality check, crop, embed) instead of by a
worker, and approved as the admin user. Photos the quality check rejects stay
rejected and are counted. Afterwards `manage.py evaluate --kind enrolled` (or a
report from the pages) measures the enrolled gallery. Use it on the development
database only: it writes real rows and files. People already enrolled under the
same external reference (`<folder>/<person>`) are skipped, so a re-run resumes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")

import django  # noqa: E402

from facerec_site import embedded  # noqa: E402

embedded.ensure_started()  # unless DATABASE_URL / CELERY_BROKER_URL are set
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Q  # noqa: E402

from enrollment import services  # noqa: E402
from identities.models import EnrollmentImage, Identity  # noqa: E402
from enrollment.services import Upload  # noqa: E402
from recognition.pipeline.images import IMAGE_SUFFIXES  # noqa: E402



def photo_order(path: Path):
    """ORL's 1.pgm ... 10.pgm in numeric order, other names alphabetically."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=5, help="photos enrolled per person (the first N)")
    parser.add_argument("--people", type=int, default=None, help="at most this many people")
    args = parser.parse_args()

    admin = (get_user_model().objects.filter(Q(groups__name="admin") | Q(is_superuser=True))
             .order_by("pk").first())
    if admin is None:
        sys.exit("no user in the admin role: run `manage.py ensure_admin` (make run does) first")
    people = sorted((p for p in args.folder.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
    people = people[: args.people] if args.people else people
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    for person in people:
        ref = f"{args.folder.name}/{person.name}"
        if Identity.objects.filter(external_ref=ref).exists():
            outcomes["people skipped (already enrolled)"] += 1
            continue
        photos = sorted((p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=photo_order)
        photos = photos[: args.photos]
        with transaction.atomic():
            identity = services.create_identity(display_name=f"{args.folder.name} {person.name}", external_ref=ref,
                                                actor=admin)
            services.record_consent(identity=identity, given_by_name="benchmark data set",
                                    purpose="benchmark evaluation", wording_version="benchmark", actor=admin)
            images = services.enroll_photos(identity=identity, actor=admin,
                                            uploads=[Upload(name=p.name, data=p.read_bytes()) for p in photos])
        for image in images:
            outcome = services.process_photo(image.pk) or "claimed elsewhere"
            outcomes[f"photos {outcome}"] += 1
        ready = list(EnrollmentImage.objects.filter(identity=identity, status="awaiting_review")
                     .values_list("pk", flat=True))
        if ready:
            services.approve_photos(image_ids=ready, actor=admin)
        outcomes["people enrolled"] += 1
    print(f"{args.folder}: {dict(outcomes)} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
