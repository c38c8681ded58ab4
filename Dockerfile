# inspector in a container (docs/ci.md, "The container image"):
#
#   docker build -t inspector .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#       --group-add "$(stat -c %g /var/run/docker.sock)" inspector app:2 --ci
#   docker run --rm -v "$PWD/app.tar:/work/image.tar:ro" inspector /work/image.tar --ci
#
# It runs as uid 10001, not root: give it the group of the engine's socket (--group-add)
# to read images from the engine, or run it with --user 0.
#
# PYTHON_IMAGE: any Python 3.11+ image with python3 and a POSIX shell (a mirror of
# python:3.12-slim, say). pip reads PIP_INDEX_URL and the other PIP_* settings as build
# arguments, for a private package index.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A C compiler for the compiled loops, the header walk and the stacking (on Debian-based
# images such as the default; without one the install falls back to Python: `inspector
# --version` says which)
RUN if command -v apt-get >/dev/null; then \
        apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
        && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/inspector
WORKDIR /src
# The dependencies first, from pyproject.toml alone: editing the source reinstalls none.
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
    && /opt/inspector/bin/pip install --no-compile -r requirements.txt
COPY README.md ./
COPY inspector ./inspector
# No bytecode here: the final stage compiles it in a layer of its own, so the copied
# venv holds no __pycache__ (which would read as build-context junk).
RUN /opt/inspector/bin/pip install --no-compile --no-deps . \
    && /opt/inspector/bin/pip uninstall --quiet --yes pip setuptools

FROM ${PYTHON_IMAGE}
RUN echo 'inspector:x:10001:10001:inspector:/home/inspector:/sbin/nologin' >> /etc/passwd \
    && echo 'inspector:x:10001:' >> /etc/group \
    && mkdir -p /home/inspector/.cache /work \
    && chown -R 10001:10001 /home/inspector /work
COPY --from=build /opt/inspector /opt/inspector
RUN /opt/inspector/bin/python -m compileall -q -j 0 /opt/inspector/lib
ENV PATH=/opt/inspector/bin:$PATH HOME=/home/inspector PYTHONDONTWRITEBYTECODE=1
LABEL org.opencontainers.image.title="inspector" \
      org.opencontainers.image.description="Look inside container images: layers, wasted bytes, findings, CI verdicts."
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["inspector"]
CMD ["--help"]
