"""`Settings`: endpoint, sampling, timeouts, budgets and named profiles, persisted without secrets.

The file is ``$DBCHAT_CONFIG_DIR/settings.json`` (default ``~/.config/dbchat-magic/settings.json``),
written with mode 0600. It never holds a token: credentials come from `dbchat_magic.auth`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dbchat_magic.errors import ConfigError
from dbchat_magic.hosts import check_host
from dbchat_magic.pricing import parse_prices

__all__ = ["APIS", "CHART_RENDERERS", "RATE_LIMIT_MODES", "TRACING_MODES", "URL_STYLES",
           "WIDGET_MODES", "Profile", "Settings", "config_dir", "default_path"]

URL_STYLES = ("databricks", "openai")
APIS = ("auto", "chat", "agent-chat", "responses", "open-responses")
"""How to talk to the endpoint: ``auto`` reads its task from the serving-endpoints API; ``chat``
Chat Completions; ``agent-chat`` an MLflow ChatAgent; ``responses`` the Responses API (a
ResponsesAgent, or the ``/serving-endpoints/responses`` route with url_style openai);
``open-responses`` Databricks' ``/serving-endpoints/open-responses`` route."""
RATE_LIMIT_MODES = ("wait", "fail")
TRACING_MODES = ("auto", "on", "off")  # MLflow tracing (dbchat_magic.tracing)
WIDGET_MODES = ("auto", "on", "off")  # live views as widgets (ui.widgets_choice)
CHART_RENDERERS = ("svg", "png", "html", "vega", "vegalite", "text")  # also specs.RENDERERS
# Keys that must never be written to or read from the settings file.
_SECRET_KEYS = frozenset({"token", "password", "client_secret", "api_key", "secret"})
# auth: "auto" = the Databricks credential chain (OpenAI-style hosts: none when it finds nothing),
# "none" = send no credentials, "env:VAR" = a bearer token read from environment variable VAR.
_AUTH = re.compile(r"auto|none|env:[A-Za-z_][A-Za-z0-9_]{0,127}")
_MIN_CONTEXT_TOKENS = 256


def config_dir() -> Path:
    """The directory holding settings.json (``$DBCHAT_CONFIG_DIR`` wins)."""
    env = os.environ.get("DBCHAT_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".config" / "dbchat-magic"


def default_path() -> Path:
    """The default settings file."""
    return config_dir() / "settings.json"


def _check_endpoint_name(name: str, where: str, url_style: str | None = "databricks") -> None:
    """Databricks endpoint names have no '/'; OpenAI-style model ids may (``Qwen/Qwen2.5-0.5B``,
    a GGUF path), but no whitespace or control characters. ``url_style`` None: either rule."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} must be a serving endpoint name without '/' (got {name!r})")
    if url_style == "databricks" and "/" in name:
        raise ConfigError(f"{where} must be a serving endpoint name without '/' (got {name!r}); "
                          "model ids with '/' need an OpenAI-style host (url_style openai)")
    if any(c.isspace() or not c.isprintable() for c in name):
        raise ConfigError(f"{where} must not hold spaces or control characters (got {name!r})")


def _check_auth(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _AUTH.fullmatch(value):
        raise ConfigError(f"{where} must be auto, none or env:VARIABLE (got {value!r})")


def _check_context(value: Any, where: str) -> None:
    if value is not None:
        _check_range(where, value, _MIN_CONTEXT_TOKENS, None, integer=True)


def _check_range(name: str, value: Any, lo: float, hi: float | None, *, integer: bool) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (
            not integer and not math.isfinite(value)):
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'} "
                          f"(got {value!r})")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
        raise ConfigError(f"{name} must be {bound} (got {value!r})")


@dataclass(frozen=True)
class Profile:
    """A named endpoint choice (for A/B comparisons): fields left None keep the base settings."""

    endpoint: str
    host: str | None = None
    url_style: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    api: str | None = None
    auth: str | None = None
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        _check_endpoint_name(self.endpoint, "profile endpoint", self.url_style)
        if self.api is not None and self.api not in APIS:
            raise ConfigError(f"profile api must be one of {', '.join(APIS)} (got {self.api!r})")
        if self.auth is not None:
            _check_auth(self.auth, "profile auth")
        _check_context(self.context_tokens, "profile context_tokens")
        if self.host is not None:
            check_host(self.host, "profile host")
        if self.url_style is not None and self.url_style not in URL_STYLES:
            raise ConfigError(f"profile url_style must be one of {URL_STYLES} "
                              f"(got {self.url_style!r})")
        if self.temperature is not None:
            _check_range("profile temperature", self.temperature, 0, 2, integer=False)
        if self.max_tokens is not None:
            _check_range("profile max_tokens", self.max_tokens, 1, None, integer=True)


@dataclass(frozen=True)
class Settings:
    """Everything configurable except credentials. Build changed copies with `replace`."""

    host: str = ""  # "" = take the host from the credential chain
    endpoint: str = "databricks-meta-llama-3-3-70b-instruct"
    url_style: str = "databricks"
    api: str = "auto"
    temperature: float = 0.2
    max_tokens: int = 1024
    connect_timeout: float = 10.0
    first_byte_timeout: float = 60.0
    gap_timeout: float = 30.0
    total_timeout: float = 120.0
    max_retries: int = 3
    retry_backoff: float = 0.5  # first backoff (s); doubles per retry, with jitter
    retry_max_wait: float = 20.0  # longest single wait, Retry-After included
    profiles: Mapping[str, Profile] = field(default_factory=dict, hash=False)
    profile: str | None = None  # the profile last applied with `use`
    persona: str = "analyst"
    system_role: bool = True
    history_budget_tokens: int = 3000
    context_budget_tokens: int = 1500
    frame_budget_tokens: int = 400
    spec_repair: bool = True
    chart_renderer: str = "vegalite"  # interactive Vega-Lite v5 mimetype + static SVG
    rate_limit_rpm: int | None = None  # None = off
    rate_limit_tpm: int | None = None  # None = off
    rate_limit_mode: str = "wait"
    max_event_bytes: int = 16 * 2**20  # longest SSE line / event data accepted from a server
    max_body_bytes: int = 16 * 2**20  # largest non-streamed answer body accepted
    prices: Mapping[str, Any] | None = field(default=None, hash=False)  # see dbchat_magic.pricing
    history_log: bool = True  # log every turn to the history database
    history_path: str = ""  # "" = the default location (dbchat_magic.history.history_location)
    tracing: str = "auto"  # MLflow traces: auto (MLflow installed and a tracking URI), on, off
    auth: str = "auto"  # auto | none | env:VAR (the variable's name only: never a token)
    context_tokens: int | None = None  # the model's context window; None = unknown (no bound)
    raise_on_failure: bool = True  # a failed %%dbchat cell ends in error (--no-raise: it does not)
    widgets: str = "auto"  # live views as widgets: auto (not on an ipywidgets 7 kernel), on, off

    def __post_init__(self) -> None:
        if not isinstance(self.profiles, Mapping):
            raise ConfigError("profiles must be an object mapping profile names to endpoint "
                              f"names or objects (got {type(self.profiles).__name__})")
        check_host(self.host, "host")
        profiles = {}
        for name, prof in dict(self.profiles).items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"profiles: a profile name must be a non-empty string "
                                  f"(got {name!r})")
            profiles[name] = _as_profile(name, prof)
        object.__setattr__(self, "profiles", MappingProxyType(profiles))
        if isinstance(self.host, str):
            object.__setattr__(self, "host", self.host.strip().rstrip("/"))
        _validate(self)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied; strings are converted ("0.5", "off", "true")."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(names))}")
        if "endpoint" in changes and "profile" not in changes:
            changes["profile"] = None  # a hand-picked endpoint leaves the profile
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in changes.items()})

    def use(self, name: str) -> Settings:
        """A copy with profile ``name`` applied: its endpoint, and whatever else it sets."""
        prof = self.profiles.get(name)
        if prof is None:
            known = ", ".join(self.profiles) or "none defined"
            raise ConfigError(f"profile {name!r} does not exist (profiles: {known})")
        changes: dict[str, Any] = {"endpoint": prof.endpoint, "profile": name}
        for key in _PROFILE_KEYS:
            value = getattr(prof, key)
            if value is not None:
                changes[key] = value
        return dataclasses.replace(self, **changes)

    def with_profile(self, name: str, endpoint: str, **fields: Any) -> Settings:
        """A copy that also holds profile ``name`` (replacing one of the same name)."""
        return dataclasses.replace(
            self, profiles={**self.profiles, name: Profile(endpoint=endpoint, **fields)})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what `save` writes)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["profiles"] = {n: {k: v for k, v in dataclasses.asdict(p).items() if v is not None}
                            for n, p in self.profiles.items()}
        data["prices"] = None if self.prices is None else json.loads(json.dumps(self.prices))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Settings from `to_dict` output; unknown and secret-looking keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names and k not in _SECRET_KEYS}
        return cls(**kept)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Settings:
        """Read the settings file; defaults when it does not exist."""
        p = Path(path) if path is not None else default_path()
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {p}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"settings file {p} is not valid JSON ({exc}); fix or delete it") \
                from None
        if not isinstance(data, dict):
            raise ConfigError(f"settings file {p} must hold a JSON object")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"settings file {p}: {exc}") from None

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the settings atomically with mode 0600 (no token is ever written)."""
        p = Path(path) if path is not None else default_path()
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=p.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


def _as_profile(name: str, value: Any) -> Profile:
    if isinstance(value, Profile):
        return value
    if isinstance(value, str):
        return Profile(endpoint=value)
    if isinstance(value, Mapping):
        allowed = {f.name for f in dataclasses.fields(Profile)}
        try:
            return Profile(**{k: v for k, v in value.items() if k in allowed})
        except TypeError:
            raise ConfigError(f"profiles.{name}: needs at least an endpoint") from None
        except ConfigError as err:
            raise ConfigError(f"profiles.{name}: {err}") from None
    raise ConfigError(f"profiles.{name}: expected an endpoint name or an object (got {value!r})")


_PROFILE_KEYS = ("host", "url_style", "temperature", "max_tokens", "api", "auth",
                 "context_tokens")
_INT_FIELDS = {"max_tokens": 1, "max_retries": 0, "history_budget_tokens": 0,
               "context_budget_tokens": 0, "frame_budget_tokens": 0,
               "max_event_bytes": 64 * 1024, "max_body_bytes": 64 * 1024}
_FLOAT_FIELDS = {"connect_timeout": 0.1, "first_byte_timeout": 0.1, "gap_timeout": 0.1,
                 "total_timeout": 0.1, "retry_backoff": 0.0, "retry_max_wait": 0.0}
_BOOL_FIELDS = ("system_role", "spec_repair", "history_log", "raise_on_failure")
_CHOICES = {"url_style": URL_STYLES, "api": APIS, "rate_limit_mode": RATE_LIMIT_MODES,
            "chart_renderer": CHART_RENDERERS, "tracing": TRACING_MODES, "widgets": WIDGET_MODES}


def _validate(s: Settings) -> None:
    if not isinstance(s.host, str) or (s.host and any(c.isspace() for c in s.host)):
        raise ConfigError(f"host must be a URL such as https://adb-123.azuredatabricks.net "
                          f"(got {s.host!r})")
    _check_endpoint_name(s.endpoint, "endpoint", s.url_style)
    _check_auth(s.auth, "auth")
    _check_context(s.context_tokens, "context_tokens")
    _check_range("temperature", s.temperature, 0, 2, integer=False)
    for name, lo in _INT_FIELDS.items():
        _check_range(name, getattr(s, name), lo, None, integer=True)
    if s.max_retries > 10:
        raise ConfigError(f"max_retries must be at most 10 (got {s.max_retries})")
    for name, low in _FLOAT_FIELDS.items():
        _check_range(name, getattr(s, name), low, None, integer=False)
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(s, name), bool):
            raise ConfigError(f"{name} must be true or false (got {getattr(s, name)!r})")
    for name, choices in _CHOICES.items():
        if getattr(s, name) not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)} "
                              f"(got {getattr(s, name)!r})")
    for name in ("rate_limit_rpm", "rate_limit_tpm"):
        if getattr(s, name) is not None:
            _check_range(name, getattr(s, name), 1, None, integer=True)
    if not isinstance(s.persona, str) or not s.persona:
        raise ConfigError(f"persona must be a non-empty name (got {s.persona!r})")
    if s.profile is not None and s.profile not in s.profiles:
        raise ConfigError(f"profile {s.profile!r} is not among the profiles")
    if not isinstance(s.history_path, str) or "\x00" in s.history_path:
        raise ConfigError(f"history_path must be a folder or file path (got {s.history_path!r})")
    parse_prices(s.prices, defaults=False)  # ConfigError naming the bad entry


def _coerce_prices(value: str) -> Any:
    """``prices`` from a magic argument: JSON text, or "" / "none" / "default" for no table."""
    if value.strip().lower() in {"", "none", "null", "default"}:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"prices must be JSON such as {{\"my-endpoint\": {{\"input\": 0.5, "
                          f"\"output\": 1.5}}}} (USD per million tokens): {exc}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, value: Any) -> Any:
    """Turn strings (from magic arguments) into the field's type; other values pass unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if name in _INT_FIELDS:
            return int(text)
        if name in _FLOAT_FIELDS or name == "temperature":
            return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number (got {value!r})") from None
    if name in ("rate_limit_rpm", "rate_limit_tpm", "context_tokens"):
        if text.lower() in {"", "off", "none", "0"}:
            return None
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number or 'off' (got {value!r})") from None
    if name in _BOOL_FIELDS:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false (got {value!r})")
    if name == "profile" and text.lower() in {"", "none"}:
        return None
    if name == "prices":
        return _coerce_prices(text)
    return text
