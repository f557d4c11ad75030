# sspr-bot as a container: `sspr-bot serve` on port 3978, as a non-root user, on a
# read-only root file system. Everything the bot writes (its data_dir, temporary files)
# lives in the one volume /var/lib/sspr-bot; the config is mounted at /etc/sspr-bot.
#
#   docker build -t sspr-bot .
#   docker run --read-only --env-file sspr-bot.env -p 3978:3978 \
#     -v "$PWD/sspr.yaml:/etc/sspr-bot/sspr.yaml:ro" -v sspr-data:/var/lib/sspr-bot sspr-bot
#
# Secrets come from the environment at run time (--env-file, Kubernetes Secrets), never
# from the image.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# The build stage installs the bot and its `fast` extra into a virtualenv; only that
# virtualenv reaches the final image, without pip's cache or the sources.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/sspr-bot
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY dialogs ./dialogs
COPY state ./state
COPY adapters ./adapters
COPY config ./config
RUN /opt/sspr-bot/bin/pip install --no-cache-dir ".[fast]"

FROM ${PYTHON_IMAGE} AS runtime
# HOME and TMPDIR point into the volume, so nothing is ever written to the image's files:
# the root file system can be mounted read-only (`docker run --read-only`,
# readOnlyRootFilesystem in Kubernetes). The bytecode was compiled at install time.
ENV PATH=/opt/sspr-bot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/sspr-bot \
    TMPDIR=/var/lib/sspr-bot
RUN groupadd --system --gid 10001 sspr-bot \
    && useradd --system --uid 10001 --gid sspr-bot --home-dir /var/lib/sspr-bot \
        --no-create-home --shell /usr/sbin/nologin sspr-bot \
    && install -d -o sspr-bot -g sspr-bot -m 0700 /var/lib/sspr-bot \
    && install -d -m 0755 /etc/sspr-bot
COPY --from=build /opt/sspr-bot /opt/sspr-bot
# A relative data_dir (the default, sspr-data) is taken from here, inside the volume.
WORKDIR /var/lib/sspr-bot
VOLUME ["/var/lib/sspr-bot"]
USER 10001:10001
EXPOSE 3978
# Python turns SIGINT into an orderly shutdown (connections drained, stores closed); as
# PID 1 it would ignore the default SIGTERM.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3978/healthz', timeout=4)"]
ENTRYPOINT ["sspr-bot"]
CMD ["serve", "--config", "/etc/sspr-bot/sspr.yaml", "--host", "0.0.0.0", "--port", "3978"]
