"""Shared fixtures: an isolated config dir, no real credentials, a running simulator (also in the
environment, or with its Llama endpoint chosen), and one local Spark session."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from dbchat_magic.auth import CHAIN_ENV
from dbchat_magic.config import Settings
from dbchat_magic.simulator import LLAMA, Simulator

# Property tests judge inputs, not the clock: on the loaded 2-core CI machine Hypothesis' own
# timing checks (deadline, slow generation) fail without a bug.
settings.register_profile("dbchat", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("dbchat")

# pytest.approx reads sys.modules["numpy"] without the import lock: a warm-up thread importing
# pandas (hence numpy) during a test makes it see a half-initialised module ("partially
# initialized module 'numpy'"). Import it whole before any test starts such a thread.
if importlib.util.find_spec("numpy") is not None:
    importlib.import_module("numpy")


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own config dir and starts with no Databricks credentials in the env."""
    cfg = tmp_path_factory.mktemp("dbchat-config")
    monkeypatch.setenv("DBCHAT_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg / "no-databrickscfg"))
    for name in CHAIN_ENV:
        if name != "DATABRICKS_CONFIG_FILE":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator on 127.0.0.1 (unpaced, default endpoints)."""
    with Simulator() as s:
        yield s


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """`sim` with its credentials in the environment (``DATABRICKS_HOST``/``DATABRICKS_TOKEN``)."""
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    return sim


@pytest.fixture
def live(env: Simulator) -> Simulator:
    """`env`, with the simulator's Llama endpoint chosen in the saved settings."""
    Settings().replace(endpoint=LLAMA).save()
    return env


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session (UTC, Arrow on) for every Spark test of the run; never stopped
    (a JVM start costs seconds, and a stopped session cannot be made again in one process)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("dbchat-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
