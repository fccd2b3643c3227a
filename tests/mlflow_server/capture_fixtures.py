"""Re-capture tests/fixtures/wire/mlflow-* from the real MLflow servers (run by hand).

    PYTHONPATH=$PWD/src .venv/bin/python tests/mlflow_server/capture_fixtures.py

Starts each server in mlflow_harness.SERVERS, sends every request in wire_cases.CASES and
writes the response body byte for byte (`.json` or `.sse`) plus a `.meta.json` sidecar
(source, MLflow version, request, status, content type, server start time).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlflow_harness import SERVERS, MlflowServer, missing_reason, mlflow_version, start, stop
from wire_cases import CASES, WIRE_DIR, WireCase, fixture_path, send

_SOURCE_FILES = {
    "chat_model": "tests/mlflow_server/models/chat_model.py",
    "chat_agent": "tests/mlflow_server/models/chat_agent.py",
    "responses_agent": "tests/mlflow_server/models/responses_agent.py",
    "responses_agent_stream": "tests/mlflow_server/models/responses_agent_server.py",
    "chat_agent_stream": "tests/mlflow_server/models/chat_agent_server.py",
}


def _server_label(name: str) -> str:
    kind = SERVERS[name][0]
    if kind == "model":
        return "`mlflow models serve --env-manager local` (pyfunc scoring server)"
    return "MLflow AgentServer (mlflow.genai.agent_server) under uvicorn"


def _capture(server: MlflowServer, case: WireCase) -> str:
    response = send(server.base_url, case)
    content_type = response.headers.get("content-type", "")
    path = fixture_path(case, content_type)
    path.write_bytes(response.content)
    meta = {
        "source": f"MLflow {mlflow_version()} {_server_label(case.server)}, "
                  f"model defined in {_SOURCE_FILES[case.server]}",
        "captured_by": "tests/mlflow_server/capture_fixtures.py",
        "request": {"method": "POST", "path": case.path, "json": case.body},
        "status": response.status_code,
        "content_type": content_type,
        "volatile_keys": sorted(case.volatile),
        "server_start_seconds": round(server.start_seconds, 2),
    }
    meta_path = path.with_name(case.stem + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return f"{path.name}: {response.status_code} {content_type} {len(response.content)} bytes"


def main() -> int:
    reason = missing_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    WIRE_DIR.mkdir(parents=True, exist_ok=True)
    for name in SERVERS:
        server = start(name)
        print(f"{name}: ready in {server.start_seconds:.2f} s on {server.base_url}")
        try:
            for case in (c for c in CASES if c.server == name):
                print("  " + _capture(server, case))
        finally:
            stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
