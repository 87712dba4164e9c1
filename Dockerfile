# One image for every hub service of docker-compose.yml (Airflow components, the hub CLI, the simulated
# justice API): the same pinned dependencies as `make test` (requirements.lock).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HUB_HOME=/opt/hub/state
WORKDIR /opt/hub
RUN pip install --no-cache-dir uv==0.13.9
COPY requirements.lock pyproject.toml ./
RUN uv pip install --system --no-cache -r requirements.lock
COPY src ./src
COPY dags ./dags
COPY plugins ./plugins
COPY dbt_project ./dbt_project
COPY expectations ./expectations
RUN uv pip install --system --no-cache --no-deps -e . && useradd --create-home --uid 50000 hub \
    && mkdir -p /opt/hub/state && chown -R hub /opt/hub
USER hub
