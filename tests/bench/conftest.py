from tests.webhooks.conftest import receiver  # noqa: F401 (the local webhook receiver)
from tests.cameras.conftest import start_watcher, stream_server  # noqa: F401 (camera_bench's watcher and streams)
from tests.videos.conftest import enrolled, enrollment_faces  # noqa: F401 (people enrolled, for camera_bench)
