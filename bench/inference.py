"""Benchmark inference on full-size 3328x4096 mammograms: in-process, and remote over loopback, same run.

    python bench/inference.py [--patients 2] [--rounds 2] [--long-side 1024]

Generates a synthetic full-size corpus (emr_core.synthetic, as `sgm demo-data --full-size`), ingests it into a
temporary EMR, registers a detector with the baseline's kind of compute (bench/inference_model.py) in a SQLite
MLflow registry, and predicts every study end to end (read, window, resize, encode, model, parse, store):
  - in-process images/s and the share of time outside the model's own compute (target < 30%);
  - `mlflow models serve` on loopback vs in-process, per image (target < +25%).
Rounds alternate in-process and remote so both see the same machine load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.migrate import upgrade
from emr_core.models_ml import ModelPrediction, StudyInference
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_models.inference import InProcessBackend, RemoteBackend, RetryPolicy, resolve_model
from sgm_models.predict import predict_studies
from sgm_models.predictions import pending_studies

MODEL = Path(__file__).with_name("inference_model.py")
NAME = "bench-detector"


def _register(uri: str, artifacts: Path, long_side: int) -> None:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # A SQLite store keeps artifacts in ./mlruns unless the experiment says otherwise.
    experiment = mlflow.create_experiment("bench-inference", artifact_location=artifacts.as_uri())
    with mlflow.start_run(experiment_id=experiment):
        mlflow.pyfunc.log_model(
            name="detector", python_model=str(MODEL), metadata={"input_long_side": long_side},
            registered_model_name=NAME, pip_requirements=["mlflow", "scipy"],
        )  # fmt: skip
    mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", "1")


def _serve(uri: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    # `mlflow models serve` execs `uvicorn` by name: this venv's bin folder goes first on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        **os.environ,
        "PATH": path,
        "MLFLOW_TRACKING_URI": uri,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", f"models:/{NAME}@champion",
               "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return process
        except OSError:
            time.sleep(1)
    process.kill()
    sys.exit(f"mlflow models serve did not start: {log.read_text()[-500:]}")


def _emr(work: Path, patients: int) -> tuple[Settings, Any]:
    corpus = work / "corpus"
    options = CorpusOptions(patients=patients, seed=5, columns=3328, rows=4096, prior_fraction=0.0, workers=2)
    generate_corpus(corpus, options)
    settings = Settings(home=work / "sgm", ingest_workers=2)
    settings.root.mkdir(parents=True)
    engine = make_engine(settings.url)
    upgrade(engine)
    sessions = make_session_factory(engine, settings)  # the audit key lives in the temporary data folder
    ingest_paths(sessions, settings, [corpus / "dicom"])
    return settings, sessions


def _timed(sessions: Any, settings: Settings, backend: Any) -> tuple[float, int]:
    with session_scope(sessions) as session:
        session.execute(delete(ModelPrediction))
        session.execute(delete(StudyInference))
        ids = pending_studies(session, NAME, "1")
    start = time.perf_counter()
    report = predict_studies(sessions, settings.root, backend, ids, workers=1)
    elapsed = time.perf_counter() - start
    assert report.failed == 0, report.reasons
    with session_scope(sessions) as session:
        images = session.query(ModelPrediction).count()
    return elapsed, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--long-side", type=int, default=1024)
    parser.add_argument("--port", type=int, default=5931)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgm-bench-inference-") as tmp:
        work = Path(tmp)
        settings, sessions = _emr(work, args.patients)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        _register(uri, work / "artifacts", args.long_side)
        model = resolve_model(uri, NAME, "champion")
        local = InProcessBackend(model)
        detector = local._pyfunc.unwrap_python_model()  # the bench model counts its own compute seconds
        server = _serve(uri, args.port, work / "serve.log")
        remote = RemoteBackend(model, f"http://127.0.0.1:{args.port}", RetryPolicy(read_timeout=600), 1)
        try:
            _timed(sessions, settings, local)  # warm-up: caches, first model call
            _timed(sessions, settings, remote)
            totals = {"in-process": [0.0, 0], "remote": [0.0, 0]}
            compute = 0.0
            for _ in range(args.rounds):
                before = type(detector).compute_seconds
                seconds, images = _timed(sessions, settings, local)
                compute += type(detector).compute_seconds - before
                totals["in-process"][0] += seconds
                totals["in-process"][1] += images
                seconds, images = _timed(sessions, settings, remote)
                totals["remote"][0] += seconds
                totals["remote"][1] += images
        finally:
            server.terminate()
            server.wait(30)
        _report(totals, compute)


def _report(totals: dict[str, list[float]], compute: float) -> None:
    local_s, local_n = totals["in-process"]
    remote_s, remote_n = totals["remote"]
    per_local, per_remote = local_s / local_n, remote_s / remote_n
    outside = 1 - compute / local_s
    print(f"full-size 3328x4096 images: {int(local_n)} in-process, {int(remote_n)} remote")
    print(f"in-process: {1 / per_local:.2f} images/s ({per_local * 1000:.0f} ms/image, model compute "
          f"{compute / local_n * 1000:.0f} ms/image)")  # fmt: skip
    print(f"time outside the model (read, window, resize, encode, decode, parse, store): {outside:.0%} (target < 30%)")
    print(f"remote over loopback: {per_remote * 1000:.0f} ms/image = {per_remote / per_local:.2f}x in-process "
          f"({per_remote / per_local - 1:+.0%}, target < +25%)")  # fmt: skip


if __name__ == "__main__":
    main()
