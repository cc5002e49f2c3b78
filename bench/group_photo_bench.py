"""Group photos at enrollment on LFW: how many enrollment photos show several significant faces, and how
often the preselected face is the person's (enrollment.services.processing's rule, run here on the pipeline).

LFW's deep-funneled photos are centred on their subject, so the subject is the detected face nearest
the centre; bystanders are the others. Each person's photos are taken in order, as an operator would
upload them: the first goes by size and position, later ones by similarity to the photos before.

    .venv/bin/python bench/group_photo_bench.py [--people 311] [--photos 5] [--downscale 150]

`--downscale 150` repeats the issue's test (photos scaled to 150 x 150, faces about 55 px).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.shared_data import LFW_IMAGES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=311, help="people with more than --photos photos, in name order")
    parser.add_argument("--photos", type=int, default=5, help="enrollment photos per person")
    parser.add_argument("--downscale", type=int, default=0, help="scale each photo to N x N first (0: as is)")
    args = parser.parse_args()

    import os

    import django
    from PIL import Image

    from facerec_site import environment

    environment.load()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facerec_site.settings")
    django.setup()  # the platform's own pipeline and quality limits, as configured
    from recognition.pipeline.quality import preselect_face
    from recognition.runtime import get_pipeline, quality_thresholds

    pipeline, thresholds = get_pipeline(), quality_thresholds()
    people = sorted(p for p in LFW_IMAGES.iterdir() if len(list(p.glob("*.jpg"))) > args.photos)[:args.people]
    started = time.monotonic()
    photos = several = right = right_by_size = subject_missing = 0
    for person in people:
        templates: list[np.ndarray] = []
        for path in sorted(person.glob("*.jpg"))[:args.photos]:
            with Image.open(path) as im:
                image = im.convert("RGB")
                if args.downscale:
                    image = image.resize((args.downscale, args.downscale), Image.Resampling.LANCZOS)
            pixels = np.asarray(image)
            photos += 1
            detections = pipeline.detector.detect(pixels)
            if not detections:
                continue
            h, w = pixels.shape[:2]
            subject = min(detections, key=lambda d: math.hypot((d.box[0] + d.box[2]) / 2 - w / 2,
                                                                (d.box[1] + d.box[3]) / 2 - h / 2))
            significant = [d for d in detections if thresholds.significant(d)]
            if len(significant) > 1:
                several += 1
                if subject not in significant:
                    subject_missing += 1
                    continue
                embeddings = pipeline.embedder.embed(np.stack([pipeline.crop(pixels, d) for d in significant]))
                similar = ([float(max(np.stack(templates) @ e)) for e in embeddings] if templates else None)
                chosen = significant[preselect_face(pixels.shape, significant, similar)]
                right += chosen is subject
                right_by_size += max(significant, key=lambda d: d.width * d.height) is subject
                if chosen is subject:
                    templates.append(embeddings[significant.index(chosen)])
            elif significant:
                templates.append(pipeline.embedder.embed(pipeline.crop(pixels, significant[0])[None])[0])
    elapsed = time.monotonic() - started
    print(f"{len(people)} people x {args.photos} photos{f' at {args.downscale} px' if args.downscale else ''}: "
          f"{photos} photos, {several} with several significant faces ({several / photos:.1%}: refused by "
          f"`single`, sent to review by `review`)")
    judged = several - subject_missing
    if judged:
        print(f"preselected face is the subject in {right} of {judged} ({right / judged:.1%}); the largest face "
              f"would be in {right_by_size} ({right_by_size / judged:.1%}); {subject_missing} where the subject "
              f"itself is not significant")
    print(f"{elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
