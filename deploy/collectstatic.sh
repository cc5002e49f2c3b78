#!/bin/sh
# The image's build step (Dockerfile RUNs this): static files into STATIC_ROOT, nothing else.
#
# Settings generate a local-only site's keys (secret_key, photo_keys) into FACEREC_VAR_DIR
# when they are read; here that is a throwaway folder removed before the step ends, so no
# key is left in an image layer (tests/facerec_site/test_container_image.py runs this very
# command and checks). The URLs only satisfy settings: collectstatic connects to nothing.
set -eu
: "${STATIC_ROOT:?STATIC_ROOT must name the image folder for static files}"
var_dir=$(mktemp -d)
trap 'rm -rf "$var_dir"' EXIT
FACEREC_VAR_DIR="$var_dir" \
DATABASE_URL=postgres://build@localhost/build \
CELERY_BROKER_URL=redis://localhost \
DEBUG=1 \
    python manage.py collectstatic --noinput --verbosity 0
