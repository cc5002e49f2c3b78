# The platform's image: code, dependencies and static files, no secret and no state.
# Keys come from the environment or are generated at run time into FACEREC_VAR_DIR; that,
# media and models are named volumes (docker-compose.yml). .dockerignore keeps .env,
# var/, media/ and key files out of the build context.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STATIC_ROOT=/app/static \
    FACEREC_VAR_DIR=/data/var MEDIA_ROOT=/data/media FACEREC_MODELS_DIR=/data/models
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-nodeps.txt
# The site runs unprivileged, owning only the state folders (0700: keys and face photos);
# a named volume mounted on one takes its owner and mode when it is first created.
RUN useradd --system --create-home --uid 10001 --user-group facerec \
    && install -d -o facerec -g facerec -m 0700 /data/var /data/media /data/models
COPY . .
# Static files only: the keys settings generate while collectstatic runs go to a folder
# the script removes (see deploy/collectstatic.sh).
RUN sh deploy/collectstatic.sh
# Weights are converted from the shipped graph by the web/worker commands into the
# `models` volume (once, cached with their SHA-256): nothing is downloaded at run time.
USER facerec
EXPOSE 8000
