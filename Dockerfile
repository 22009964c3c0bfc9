FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py ./
COPY domain domain
COPY tasks tasks
COPY workers workers
COPY frontends frontends
COPY runtime runtime
COPY migrations migrations
RUN pip install --no-cache-dir .
ENV TILLPOST_HOME=/var/lib/tillpost
USER nobody
