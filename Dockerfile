# syntax=docker/dockerfile:1
# One image for the API and the workers of DiffAE Studio.
#   GPU worker (default):  docker build -t diffae-studio:gpu .
#   API and CPU worker:    docker build -t diffae-studio:cpu --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu .
# Model weights are not baked in: mount a directory of model dirs at /weights (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    TORCH_HOME=/opt/torch \
    MODEL_DIR=/weights/faces64

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# The torch build for this image first (CUDA or CPU, same version as requirements.txt), then the rest.
RUN pip install --index-url "$TORCH_INDEX" "$(grep -E '^torch==' requirements.txt)" \
 && pip install -r requirements.txt

# ALIGN_BACKEND=face_alignment reads its weights from the torch hub cache and never downloads at
# run time: construct the model once here so that S3FD and 2D-FAN land in $TORCH_HOME/hub.
RUN python -c "import face_alignment as fa; fa.FaceAlignment(fa.LandmarksType.TWO_D, device='cpu', face_detector='sfd')" \
 && chmod -R a+rX "$TORCH_HOME"

COPY backend backend
COPY worker worker
# models/: the serving core only (.dockerignore leaves out the weights and the wings)
COPY models models
COPY frontend frontend

RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin studio
USER studio
EXPOSE 8000
CMD ["uvicorn", "backend.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
