"""embed_files: one face per file, and the centre-crop stand-in for benchmark photos."""

import numpy as np
from PIL import Image

from recognition.pipeline.faces import NO_FACE, embed_files
from recognition.runtime import get_pipeline, read_image_file
from tests.shared_data import LFW_IMAGES


def test_a_photo_without_a_face_is_skipped_or_embedded_from_its_centre(tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("RGB", (250, 250), (128, 128, 128)).save(grey)
    face = str(LFW_IMAGES / "Tony_Blair" / "Tony_Blair_0001.jpg")
    pipeline = get_pipeline()

    plain = embed_files(pipeline, [face, str(grey)], read_image_file)
    with_crop = embed_files(pipeline, [face, str(grey)], read_image_file, centre_crop_when_no_face=True)

    assert plain.paths == [face] and plain.skipped == {str(grey): NO_FACE} and plain.centre_crops == []
    assert with_crop.paths == [face, str(grey)] and with_crop.skipped == {}
    assert with_crop.centre_crops == [str(grey)]
    np.testing.assert_allclose(with_crop.embeddings[0], plain.embeddings[0], atol=1e-5)
    assert abs(np.linalg.norm(with_crop.embeddings[1]) - 1.0) < 1e-4
