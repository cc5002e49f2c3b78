"""build_embeddings: one embedding per photo of a folder-per-identity dataset, into an .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recognition.management.progress import progress_bar, skipped_summary
from recognition.pipeline.faces import embed_files
from recognition.pipeline.images import IMAGE_SUFFIXES
from recognition.runtime import get_pipeline, read_image_file


def dataset_files(data_dir: Path) -> list[tuple[str, Path]]:
    """(identity, path) for every image file in DIR/<identity>/, sorted."""
    return [(person.name, path)
            for person in sorted(p for p in data_dir.iterdir() if p.is_dir())
            for path in sorted(person.iterdir())
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES]


class Command(BaseCommand):
    help = "Detect, crop and embed the face of every image in DIR/<person>/*, saving an .npz."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", required=True, type=Path, help="folder with one sub-folder per person")
        parser.add_argument("--out", required=True, type=Path, help="output .npz file")
        parser.add_argument("--select", choices=["center", "largest"], default="center",
                            help="which face to use when a photo holds several (default: nearest the centre)")
        parser.add_argument("--tta", action="store_true", help="horizontal-flip test-time augmentation")
        parser.add_argument("--pad-ratio", type=float, default=0.0,
                            help="pad images by this fraction before detection (tightly cropped faces, e.g. 0.3)")

    def handle(self, *args, data_dir: Path, out: Path, select: str, tta: bool, pad_ratio: float, **options):
        if not data_dir.is_dir():
            raise CommandError(f"--data-dir {data_dir} is not a folder")
        files = dataset_files(data_dir)
        if not files:
            raise CommandError(f"no images found in {data_dir}/<person>/ (expected {', '.join(sorted(IMAGE_SUFFIXES))})")
        label_of = {str(path): person for person, path in files}
        pipeline = get_pipeline()
        with progress_bar(len(files), "embedding", self.stderr) as bar:
            result = embed_files(pipeline, [str(p) for _, p in files], read_image_file, select=select, tta=tta,
                                 pad_ratio=pad_ratio, progress=bar.update)
        if not result.paths:
            raise CommandError("no face was found in any image; nothing written\n" + "\n".join(skipped_summary(result.skipped)))
        info = pipeline.embedder.model_info
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            out, embeddings=result.embeddings, labels=np.array([label_of[p] for p in result.paths]),
            paths=np.array(result.paths), model_name=info.name, model_version=info.version,
            model_sha256=info.sha256, tta=tta,
        )
        people = len({label_of[p] for p in result.paths})
        self.stdout.write(f"embedded {len(result.paths)} of {len(files)} images of {people} people -> {out}")
        self.stdout.write(f"model: {info.name} {info.version}")
        for line in skipped_summary(result.skipped):
            self.stdout.write(line)
