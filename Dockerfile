# sendwatch in a container: `sendwatch serve` as a non-root user, data in the /data volume.
#
#   docker build -t sendwatch .
#   docker run -d --name sendwatch -p 127.0.0.1:8080:8080 -v sendwatch-data:/data \
#       --stop-timeout 30 sendwatch
#
# Configuration: without one, the shipped watchlist is used. Put a sendwatch.toml in the
# volume (/data/sendwatch.toml, the working directory), or mount one and name it:
#   -v /etc/sendwatch/sendwatch.toml:/etc/sendwatch/sendwatch.toml:ro \
#   -e SENDWATCH_CONFIG=/etc/sendwatch/sendwatch.toml
# Secrets come from the environment (-e SENDWATCH_SMTP_PASSWORD=... or --env-file).
# The dashboard must listen on all addresses inside the container to be reachable through
# -p: SENDWATCH_WEB_HOST=0.0.0.0 below does that whatever the config's [web] host says
# (publish it on 127.0.0.1 of the host, as above, unless you mean to share it).
# docker stop waits 10 s by default; sendwatch waits up to [service] stop_timeout (20 s)
# for checks in flight, so give it --stop-timeout 30 (or stop_grace_period in compose).
# More in deploy/README.md.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin sendwatch \
    && mkdir /data && chown sendwatch:sendwatch /data

WORKDIR /opt/sendwatch
# Only what the package is built from: the build context's .venv and tests stay out.
COPY pyproject.toml README.md ./
COPY config ./config
COPY monitor ./monitor
COPY storage ./storage
RUN pip install ".[postgres]"

ENV SENDWATCH_DATA_DIR=/data \
    SENDWATCH_WEB_HOST=0.0.0.0 \
    SENDWATCH_WEB_PORT=8080

USER sendwatch
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# Healthy: the service is running (fresh heartbeat) and the database answers.
HEALTHCHECK --interval=1m --timeout=20s --start-period=30s CMD ["sendwatch", "status"]
CMD ["sendwatch", "serve"]
