# syntax=docker/dockerfile:1

# One image recipe for every Baton process; SERVICE picks the workspace package:
#   docker build --build-arg SERVICE=baton-router -t baton-router .
# The package's console script of the same name is the container's command.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- workspace sources
FROM ${PYTHON_IMAGE} AS workspace
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/

# ---------------------------------------------------------------- manifests only
# uv resolves from the pyproject.toml files and the lock alone. Copying just those into the
# build stage keeps the (slow) third-party install cached while only sources change: this
# stage reruns on every source edit, but its output, and so the cache key of the COPY that
# reads it, stays the same.
FROM workspace AS manifests
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete \
    && find . -mindepth 1 -depth -type d -empty -delete

# ---------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
# Pinned, so a newer uv cannot start reading uv.lock differently between two builds.
RUN pip install --no-cache-dir --disable-pip-version-check uv==0.13.9
# Bytecode is compiled here because the runtime user cannot write into the venv.
# UV_PYTHON_DOWNLOADS=never: the venv must link to this image's interpreter, which the
# runtime stage has at the same path.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app

ARG SERVICE
RUN test -n "${SERVICE}" \
    || { echo "SERVICE build arg is required, e.g. --build-arg SERVICE=baton-ingest" >&2; exit 1; }

COPY --from=manifests /src/ ./
RUN uv sync --locked --no-dev --no-editable --package "${SERVICE}" --no-install-workspace

COPY --from=workspace /src/ ./
# --no-editable installs the workspace members as wheels, so the venv alone is the app and
# the runtime image carries no source tree.
RUN uv sync --locked --no-dev --no-editable --package "${SERVICE}"

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="${SERVICE}"

RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --create-home --home-dir /home/baton \
       --shell /usr/sbin/nologin baton

# The venv's scripts carry /app/.venv in their shebangs, so it must keep this path.
COPY --from=build /app/.venv /app/.venv

# Logs as one JSON object a line, for the platform's log pipeline (LOG_FORMAT=text for people).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    BATON_SERVICE=${SERVICE}

# Fail the build, not the first `docker compose up`, when the package has no such script.
RUN command -v "${BATON_SERVICE}" >/dev/null \
    || { echo "${BATON_SERVICE}: no console script of that name in [project.scripts]" >&2; exit 1; }

USER baton
WORKDIR /home/baton
# exec, so the service (not sh) receives SIGTERM and can drain its consumers.
CMD ["sh", "-c", "exec \"$BATON_SERVICE\""]
