"""Work a dead worker held goes back to the living, within one sweep (beat: every 15 s).

A worker killed mid-task (OOM, a lost machine, SIGKILL) leaves three things behind: messages it
had taken but not acknowledged (tasks are acknowledged late), photos and videos it had claimed
(`processing`) and reports it was running. The sweep asks the workers alive which tasks
they hold (one broadcast, facerec_site.workers), and hands on whatever none of them holds:
the messages go back to their queues, the photos, videos and reports are queued again (a video
that stopped its worker too often fails instead, and its upload is deleted). Claims stay
conditional updates, so a copy that arrives twice is a no-op: nothing is processed twice.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from enrollment.services import requeue_stale_photos
from evaluation.services import requeue_orphaned_reports
from facerec_site.workers import restore_orphaned_messages, worker_states
from videos.services.retention import requeue_orphaned_videos

log = logging.getLogger(__name__)

# Held by no live worker for this long: orphaned. Longer than the broadcast (1 s) plus clock
# differences between machines, far shorter than the 60 s recovery promise.
ORPHANED_AFTER_S = 5.0
PHOTO_TASK = "identities.tasks.process_enrollment_image"
REPORT_TASK = "evaluation.tasks.run_report"
VIDEO_TASK = "videos.tasks.process_video"


def recover_lost_work(app) -> dict:
    started = time.time()
    states = worker_states(app)
    if not states.names:  # this sweep runs on a worker: no answer at all means the answers were lost
        log.warning("recovery sweep: no worker answered; nothing is judged orphaned this time")
        return {"workers": [], "messages": [], "photos": [], "reports": [], "videos": []}
    if states.unknown:  # during a rolling upgrade: their work would look orphaned
        log.warning("recovery sweep: %s did not say what they hold (an older release?); nothing is judged "
                    "orphaned this time", ", ".join(states.unknown))
        return {"workers": states.names, "messages": [], "photos": [], "reports": [], "videos": []}
    messages = restore_orphaned_messages(app, states, older_than_s=ORPHANED_AFTER_S)
    age = time.time() - started + ORPHANED_AFTER_S
    photos = requeue_stale_photos(pending_after_s=settings.FACEREC_REQUEUE_PENDING_AFTER_S,
                                  processing_after_s=settings.FACEREC_REQUEUE_PROCESSING_AFTER_S,
                                  max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS,
                                  held_photo_ids=states.held_first_args(PHOTO_TASK), orphaned_after_s=age)
    reports = requeue_orphaned_reports(held_report_ids=states.held_first_args(REPORT_TASK), older_than_s=age,
                                       max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS)
    videos = requeue_orphaned_videos(held_video_ids=states.held_first_args(VIDEO_TASK), older_than_s=age,
                                     max_attempts=settings.FACEREC_MAX_PROCESSING_ATTEMPTS,
                                     pending_after_s=settings.FACEREC_REQUEUE_PENDING_AFTER_S)
    return {"workers": states.names, "messages": messages, "photos": photos, "reports": reports, "videos": videos}
