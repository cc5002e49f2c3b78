"""identify's HNSW search breadth (pgvector's hnsw.ef_search) follows the gallery's size unless configured."""

import numpy as np
import pytest
from django.db import connection

from recognition import selectors
from recognition.models import FaceEmbedding
from recognition.services import current_model_version
from tests.photo_fixtures import synthetic_gallery


def test_the_breadth_grows_with_the_gallery_from_100_to_400(settings):
    settings.FACEREC_HNSW_EF_SEARCH = None
    sizes = (0, 1_000, 100_000, 100_001, 300_000, 1_000_000, 10**8)
    assert [selectors.hnsw_ef_search(n) for n in sizes] == [100, 100, 100, 200, 300, 400, 400]


@pytest.mark.django_db
def test_the_graph_size_is_postgres_estimate_of_the_stored_templates():
    synthetic_gallery(4, per_person=3)  # 12 templates
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {FaceEmbedding._meta.db_table}")  # what autovacuum does in time
        assert selectors.indexed_templates(cursor) == FaceEmbedding.objects.count() == 12


def test_a_configured_breadth_is_used_whatever_the_size(settings):
    settings.FACEREC_HNSW_EF_SEARCH = 64
    assert selectors.hnsw_ef_search(1_000_000) == 64


@pytest.mark.django_db
def test_the_search_asks_postgres_for_the_breadth_of_the_gallery(settings, monkeypatch):
    settings.FACEREC_HNSW_EF_SEARCH = None
    monkeypatch.setattr(selectors, "indexed_templates", lambda cursor: 250_000)
    sent = []

    def record(execute, sql, params, many, context):
        if "hnsw.ef_search" in sql:
            sent.append(list(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        selectors.nearest_identities(np.full(512, 512 ** -0.5, np.float32), model_version=current_model_version(),
                                     limit=5)
    assert sent == [[300]]
