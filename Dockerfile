# Arbiter: the service, page and worker. llama.cpp is built for a portable CPU (no -march=native).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
COPY rag ./rag
COPY evals ./evals
COPY monitoring ./monitoring
COPY ui ./ui
ENV CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home arbiter
COPY --from=build /venv /venv
USER arbiter
WORKDIR /home/arbiter
ENV PATH=/venv/bin:$PATH \
    ARBITER_HOST=0.0.0.0 \
    ARBITER_HOME=/home/arbiter/.arbiter \
    GRADIO_ANALYTICS_ENABLED=False \
    RAGAS_DO_NOT_TRACK=true
EXPOSE 8000
CMD ["arbiter", "serve"]
