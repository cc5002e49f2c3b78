"""calibrate_scores: measure the impostor similarity distribution that identify and verify thresholds rest on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recognition.management.progress import progress_bar, skipped_summary
from recognition.pipeline.calibration import calibration_path, fit_calibration
from recognition.pipeline.faces import embed_files
from recognition.pipeline.images import IMAGE_SUFFIXES
from recognition.pipeline.lfw import resolve_image_dir
from recognition.runtime import get_pipeline, read_image_file


def single_photo_people(data_dir: Path) -> list[Path]:
    """The photo of every person with exactly one: every pair of them is an impostor pair."""
    folders = sorted(p for p in resolve_image_dir(data_dir).iterdir() if p.is_dir())
    found = []
    for person in folders:
        photos = [p for p in person.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if len(photos) == 1:
            found.append(photos[0])
    return found


class Command(BaseCommand):
    help = ("Measure the per-pair false-accept rate of the serving weights on photos of different people "
            "(LFW's people with a single photo) and write the calibration identify and verify use.")

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", required=True, type=Path,
                            help="folder per person (e.g. ../shared/data/lfw); people with one photo are used")
        parser.add_argument("--out", type=Path, help="output JSON (default: the shipped file of these weights)")
        parser.add_argument("--max-people", type=int, default=None, help="use at most this many people")

    def handle(self, *args, data_dir: Path, out: Path | None, max_people: int | None, **options):
        if not data_dir.is_dir():
            raise CommandError(f"--data-dir {data_dir} is not a folder")
        files = single_photo_people(data_dir)[:max_people]
        if len(files) < 50:
            raise CommandError(f"{data_dir}: {len(files)} people with a single photo; at least 50 are needed")
        pipeline = get_pipeline()
        with progress_bar(len(files), "embedding", self.stderr) as bar:
            result = embed_files(pipeline, [str(p) for p in files], read_image_file, select="center",
                                 progress=bar.update)
        info = pipeline.embedder.model_info
        try:
            calibration = fit_calibration(
                np.asarray(result.embeddings), model_version=info.version,
                source=f"{len(result.paths)} single-photo people of {data_dir.resolve().name}, every pair an impostor")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        path = calibration.save(out or calibration_path(info.version))
        s = calibration.similarity_at_far
        self.stdout.write(f"{calibration.pairs} impostor pairs of {len(result.paths)} photos -> {path}")
        self.stdout.write("similarity at a per-pair FAR of 1e-2: %.3f, 1e-3: %.3f, 1e-4: %.3f, 1e-6: %.3f"
                          % (s(1e-2), s(1e-3), s(1e-4), s(1e-6)))
        for line in skipped_summary(result.skipped):
            self.stdout.write(line)
