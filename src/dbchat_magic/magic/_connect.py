"""``%dbchat connect URL`` (a workspace or an OpenAI-compatible server, saved as a profile) and
``%dbchat set KEY VALUE`` (any setting, validated like settings.json). Both print the effective
result. No token is ever printed or saved: ``--token-env VAR`` saves the variable's name only."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dbchat_magic.magic._errors import CellError

if TYPE_CHECKING:
    from dbchat_magic.client import ModelList
    from dbchat_magic.config import Settings

_PROBE_TIMEOUT = 15.0
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class ConnectArgs:
    """What ``%dbchat connect`` was asked."""

    url: str
    openai: bool
    token_env: str | None
    no_auth: bool
    name: str | None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit the kernel
        raise CellError(f"{message}; usage: {CONNECT_USAGE}")


CONNECT_USAGE = "%dbchat connect URL [--openai] [--token-env VAR | --no-auth] [--name PROFILE]"


def parse_connect(rest: list[str]) -> ConnectArgs:
    """The arguments of ``%dbchat connect`` (`CellError` with the usage when they are wrong)."""
    parser = _Parser(prog="%dbchat connect", add_help=False)
    parser.add_argument("url")
    parser.add_argument("--openai", action="store_true")
    parser.add_argument("--token-env", metavar="VAR")
    parser.add_argument("--no-auth", action="store_true")
    parser.add_argument("--name", metavar="PROFILE")
    args = parser.parse_args(rest)
    if args.token_env and args.no_auth:
        raise CellError("--token-env and --no-auth exclude each other")
    if args.name is not None and not _PROFILE_NAME.fullmatch(args.name):
        raise CellError(f"--name must be letters, digits, '_', '.' or '-' (got {args.name!r})")
    url = args.url.strip().rstrip("/")
    if "://" not in url:
        url = ("http://" if url.startswith(("localhost", "127.")) else "https://") + url
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise CellError(f"URL must be http(s)://host[:port][/path] (got {args.url!r})")
    return ConnectArgs(url, args.openai, args.token_env, args.no_auth, args.name)


def connect(rest: list[str]) -> None:
    """``%dbchat connect``: probe the server once, save a profile, apply it, say what it is."""
    from dbchat_magic.config import Settings

    args = parse_connect(rest)
    auth = "none" if args.no_auth else f"env:{args.token_env}" if args.token_env else "auto"
    base = Settings.load()
    trial = base.replace(host=args.url, url_style="openai", auth=_probe_auth(auth), profile=None)
    listed = _probe(trial)
    openai = args.openai or listed.openai
    lines = [_detected(args, listed)]
    changes: dict[str, Any] = {"host": args.url, "url_style": "openai" if openai else "databricks",
                               "auth": auth, "context_tokens": None}
    if not openai and "/" in base.endpoint:  # a model id of an earlier OpenAI-style server
        changes["endpoint"] = Settings().endpoint
    if openai:
        changes.update(_openai_choices(base, args, listed, auth, lines))
    name = args.name or _default_name(args.url)
    settings = base.replace(**changes)
    settings = settings.with_profile(name, settings.endpoint, **{
        k: getattr(settings, k) for k in ("host", "url_style", "auth", "context_tokens")})
    settings = settings.use(name)
    settings.save()
    print(f"connected: profile {name!r} saved and in use (switch with %dbchat use NAME)")
    print("\n".join(lines))
    print(effective_connection(settings))


def _probe_auth(auth: str) -> str:
    """Detection sends no Databricks token to an unknown server: only a chosen variable's."""
    return auth if auth.startswith("env:") else "none"


def _probe(settings: Settings) -> ModelList:
    """One ``GET …/models`` (the base URL rule of the client); `CellError` when the chosen token
    variable is not set, else never raises."""
    from dbchat_magic.client import ModelList
    from dbchat_magic.errors import AuthError, DbChatError
    from dbchat_magic.runner import get_runner

    runner = get_runner()
    try:
        return runner.run(runner.client(settings).probe(), timeout=_PROBE_TIMEOUT)
    except AuthError as err:
        raise CellError(f"{err}; nothing saved") from None
    except DbChatError as err:
        return ModelList(settings.host, None, problem=str(err))
    except TimeoutError:
        return ModelList(settings.host, None, problem=f"no answer within {_PROBE_TIMEOUT:g} s")


def _detected(args: ConnectArgs, listed: ModelList) -> str:
    if listed.openai:
        return f"OpenAI-compatible server: GET {listed.url} answered HTTP {listed.status}"
    if args.openai:
        said = f"HTTP {listed.status}" if listed.status else (listed.problem or "no answer")
        return f"OpenAI style as asked (--openai); GET {listed.url}: {said}"
    return "Databricks workspace (no OpenAI-compatible model list at this URL)"


def _openai_choices(base: Settings, args: ConnectArgs, listed: ModelList, auth: str,
                    lines: list[str]) -> dict[str, Any]:
    """Host = the probed base URL, a listed model, the context window the server names."""
    changes: dict[str, Any] = {}
    if listed.status is not None:
        changes["host"] = listed.url.removesuffix("/models")
    if listed.status in (401, 403) and auth != "auto":
        lines.append(f"the server refused the probe (HTTP {listed.status}): check the token "
                     f"in {args.token_env}" if args.token_env else
                     "the server wants a token: connect again with --token-env VAR")
    elif listed.status in (401, 403):
        lines.append(f"the server wants a token (HTTP {listed.status}): connect again with "
                     "--token-env VAR (e.g. --token-env OPENAI_API_KEY)")
    elif listed.status == 200 and auth == "auto":
        changes["auth"] = "none"  # it answered without credentials: never send it a Databricks one
    if listed.models:
        shown = ", ".join(listed.models[:5]) + (" …" if len(listed.models) > 5 else "")
        lines.append(f"models: {shown}")
        endpoint = base.endpoint if base.endpoint in listed.models else listed.models[0]
        changes["endpoint"] = endpoint
        changes["context_tokens"] = listed.context_of(endpoint)
    return changes


def _default_name(url: str) -> str:
    """A profile name from the URL's host: ``127.0.0.1:8000`` → ``127.0.0.1-8000``."""
    parts = urlsplit(url)
    name = (parts.hostname or "server") + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64]


def effective_connection(settings: Settings) -> str:
    """Host, style, model, credentials and context window, one per line (no token values)."""
    from dbchat_magic.auth import describe_auth

    window = (f"{settings.context_tokens:,} tokens" if settings.context_tokens
              else "unknown (set it: %dbchat set context_tokens N)")
    rows = [("host", settings.host), ("url_style", settings.url_style),
            ("model" if settings.url_style == "openai" else "endpoint", settings.endpoint),
            ("credentials", describe_auth(settings)), ("context window", window)]
    return "\n".join(f"  {key:<16} {value}" for key, value in rows)


def set_setting(rest: list[str]) -> None:
    """``%dbchat set KEY VALUE``: `Settings.replace` validates (the settings.json messages)."""
    from dbchat_magic.config import Settings

    if len(rest) < 2:
        raise CellError("usage: %dbchat set KEY VALUE (e.g. %dbchat set max_tokens 512); "
                        "%dbchat config lists the settings")
    key, value = rest[0], " ".join(rest[1:])
    if key in ("profiles", "profile"):
        raise CellError(f"{key} is set with %dbchat connect … --name P and %dbchat use P")
    settings = Settings.load().replace(**{key: value})
    settings.save()
    print(f"{key} = {getattr(settings, key)!r}; saved, applies to the next question")
