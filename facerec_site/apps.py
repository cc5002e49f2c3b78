from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FacerecSiteConfig(AppConfig):
    name = "facerec_site"
    verbose_name = "Site"

    def ready(self) -> None:
        # inside ready(): worker_setup imports models, which load after this module
        from facerec_site import worker_setup

        # The machine that migrates is the site: its settings become the reference workers compare.
        post_migrate.connect(worker_setup.record_after_migrate, sender=self)
