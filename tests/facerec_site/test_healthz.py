import pytest


@pytest.mark.worker
@pytest.mark.django_db
def test_healthz_reports_database_broker_worker_and_models_up(client, celery_worker):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["database"]["pgvector"].startswith("0.8")
    assert checks["broker"]["ok"]
    assert checks["worker"]["count"] >= 1
    assert checks["models"]["ok"]
    assert checks["models"]["backend"] in {"onnx", "torch"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_unreachable(client, celery_app_for_tests, tmp_path):
    good_url = celery_app_for_tests.conf.broker_url
    celery_app_for_tests.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    try:
        response = client.get("/healthz")
    finally:
        celery_app_for_tests.conf.broker_url = good_url

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_home_page_is_served(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Face recognition platform" in response.content
