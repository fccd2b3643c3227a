"""The panel's settings row: endpoint, temperature, max tokens, persona — each change is persisted.

Every change goes through ``Settings.load().replace(...).save()``: it applies to the next question
(the session reads settings fresh per question) and to later sessions; no kernel restart needed.
The endpoint list comes from the workspace (``ChatClient.list_endpoints()`` on the runner loop);
when that fails the configured profiles are offered instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbchat_magic.errors import DbChatError
from dbchat_magic.markup import escape

if TYPE_CHECKING:
    from dbchat_magic.config import Settings

COMPARE_HELP = ("compare: ctrl/⌘-click endpoints to send each question to them and the current "
                "one at once (2–6 in all); pick none for one answer")
EndpointChoice = tuple[str, str]
"""("endpoint", name) or ("profile", name): what a dropdown option selects."""


def _load_settings() -> Settings:
    from dbchat_magic.config import Settings

    return Settings.load()


def fallback_choices(settings: Settings) -> list[tuple[str, EndpointChoice]]:
    """Dropdown options without a workspace list: the current endpoint, then configured profiles."""
    return workspace_choices([], settings)


def workspace_choices(names: list[str], settings: Settings, *,
                      not_ready: frozenset[str] = frozenset()) -> list[tuple[str, EndpointChoice]]:
    """Dropdown options from the workspace list; the current endpoint stays selectable."""
    ordered = list(dict.fromkeys([*names, settings.endpoint]))
    options: list[tuple[str, EndpointChoice]] = [
        (f"{n} (not ready)" if n in not_ready else n, ("endpoint", n)) for n in ordered]
    for name, profile in settings.profiles.items():
        options.append((f"{name} (profile: {profile.endpoint})", ("profile", name)))
    return options


class SettingsRow:
    """Endpoint dropdown, temperature slider, max-tokens box and persona dropdown, plus a note line.

    ``settings`` returns the current settings (default: the settings file); ``save`` persists a
    changed copy (default: ``Settings.save()``).
    """

    def __init__(self, *, settings: Callable[[], Settings] | None = None,
                 save: Callable[[Settings], None] | None = None) -> None:
        import ipywidgets as w

        from dbchat_magic.prompts import list_personas

        self._settings = settings or _load_settings
        self._save = save or (lambda s: s.save())
        current = self._settings()
        self._quiet = True  # no saving while we fill the widgets ourselves
        self.endpoint = w.Dropdown(description="Endpoint", options=fallback_choices(current),
                                   value=("endpoint", current.endpoint),
                                   layout=w.Layout(width="28em", max_width="100%"),
                                   _dom_classes=("dbchat-endpoint",))
        self.temperature = w.FloatSlider(description="Temperature", min=0.0, max=2.0, step=0.05,
                                         value=current.temperature, continuous_update=False,
                                         style={"description_width": "initial"},
                                         layout=w.Layout(min_width="16em"))
        self.max_tokens = w.BoundedIntText(description="Max tokens", min=1, max=1_000_000,
                                           value=current.max_tokens)
        personas = list_personas()
        if current.persona not in personas:
            personas.append(current.persona)
        self.persona = w.Dropdown(description="Persona", options=personas, value=current.persona)
        self.compare = w.SelectMultiple(
            description="Compare with", options=[], rows=4,
            style={"description_width": "initial"}, layout=w.Layout(width="28em",
                                                                   max_width="100%"),
            _dom_classes=("dbchat-compare-with",))
        self.on_compare: Callable[[list[str]], None] | None = None
        """Called with `compare_targets()` whenever the "compare with" choice changes."""
        self._fill_compare()
        self.note = w.HTML()
        self.endpoints_settled = threading.Event()
        """Set once the workspace list has arrived or failed (see `load_endpoints`)."""
        self.endpoint.observe(self._on_endpoint, names="value")
        self.temperature.observe(lambda c: self._apply(temperature=c["new"]), names="value")
        self.max_tokens.observe(lambda c: self._apply(max_tokens=c["new"]), names="value")
        self.persona.observe(lambda c: self._apply(persona=c["new"]), names="value")
        self.compare.observe(lambda _c: self._compare_changed(), names="value")
        wrap = {"flex_flow": "row wrap", "max_width": "100%"}  # narrow outputs: wrap, lose nothing
        self.widget = w.VBox([w.HBox([self.endpoint, self.persona], layout=w.Layout(**wrap)),
                              w.HBox([self.temperature, self.max_tokens],
                                     layout=w.Layout(**wrap)),
                              w.HBox([self.compare, w.HTML(f"<small>{escape(COMPARE_HELP)}"
                                                           "</small>")],
                                     layout=w.Layout(**wrap)), self.note])
        self._quiet = False

    # -- endpoint list -------------------------------------------------------------------------
    def load_endpoints(self) -> Any:
        """Fetch the workspace's chat endpoints on the runner loop; returns the future.

        The dropdown is refilled when they arrive; on failure it keeps the profiles and says why.
        """
        from dbchat_magic.runner import get_runner

        runner = get_runner()
        try:
            client = runner.client(self._settings())
        except Exception as exc:  # no credentials, no client: the panel still works with profiles
            reason = str(exc) if isinstance(exc, DbChatError) else type(exc).__name__
            self._say(f"endpoint list unavailable ({reason}); showing configured profiles")
            self.endpoints_settled.set()
            return None
        future = runner.submit(client.list_endpoints())
        future.add_done_callback(self._endpoints_arrived)
        return future

    def _endpoints_arrived(self, future: Any) -> None:
        try:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is not None:
                reason = str(exc) if isinstance(exc, DbChatError) else type(exc).__name__
                self._say(f"endpoint list unavailable ({reason}); showing configured profiles")
                return
            infos = future.result()
            self.set_endpoint_names([info.name for info in infos],
                                    not_ready=frozenset(i.name for i in infos if not i.ready))
        finally:
            self.endpoints_settled.set()

    def set_endpoint_names(self, names: list[str], *,
                           not_ready: frozenset[str] = frozenset()) -> None:
        """Fill the dropdown with ``names`` (keeping the current selection and the profiles)."""
        current = self._settings()
        selected = self.endpoint.value
        options = workspace_choices(names, current, not_ready=not_ready)
        self._quiet = True
        try:
            self.endpoint.options = options
            values = [value for _, value in options]
            self.endpoint.value = selected if selected in values else ("endpoint", current.endpoint)
            self._fill_compare()
        finally:
            self._quiet = False

    # -- compare mode --------------------------------------------------------------------------
    def _fill_compare(self) -> None:
        """The "compare with" options: the endpoint dropdown's, by name (the choice is kept)."""
        options = list(dict((name, label) for label, (_kind, name) in self.endpoint.options)
                       .items())
        kept = tuple(v for v in self.compare.value if v in dict(options))
        self.compare.options = [(label, name) for name, label in options]
        if self.compare.value != kept:
            self.compare.value = kept

    def compare_targets(self) -> list[str]:
        """Where the next question goes in compare mode: the current endpoint, then each picked
        in "compare with" ([] when nothing else is picked: one answer, as usual)."""
        current = self._settings().endpoint
        picked = [name for name in self.compare.value if name != current]
        return [current, *picked] if picked else []

    def _compare_changed(self) -> None:
        from dbchat_magic.session import MAX_TARGETS

        targets = self.compare_targets()
        if self._quiet:  # a refill of the options (the choice is put back): nothing to say
            pass
        elif len(targets) > MAX_TARGETS:
            self._say(f"compare takes at most {MAX_TARGETS} endpoints with the current one: "
                      f"pick {MAX_TARGETS - 1} at most", error=True)
        elif targets:
            self._say(f"compare mode: the next question goes to {', '.join(targets)} "
                      "(this panel only, not saved)")
        else:
            self._say("compare mode off")
        if self.on_compare is not None:
            self.on_compare(targets)

    # -- changes -------------------------------------------------------------------------------
    def _on_endpoint(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None:
            return
        kind, name = change["new"]
        if kind == "profile":
            self._persist(lambda s: s.use(name), f"profile {name!r}")
        else:
            self._apply(endpoint=name)

    def _apply(self, **changes: Any) -> None:
        if self._quiet:
            return
        label = ", ".join(f"{k} = {v}" for k, v in changes.items())
        self._persist(lambda s: s.replace(**changes), label)

    def _persist(self, change: Callable[[Settings], Settings], label: str) -> None:
        try:
            updated = change(self._settings())
            self._save(updated)
        except (DbChatError, OSError) as exc:
            self._say(f"not saved: {exc}", error=True)
            return
        self.refresh(updated)
        self._say(f"{label} — applies to the next question (saved)")

    def refresh(self, settings: Settings | None = None) -> None:
        """Show ``settings`` (default: the current ones) without saving anything."""
        current = settings or self._settings()
        self._quiet = True
        try:
            choice = ("endpoint", current.endpoint)
            if choice not in [value for _, value in self.endpoint.options]:
                self.endpoint.options = [*self.endpoint.options, (current.endpoint, choice)]
                self._fill_compare()
            if self.endpoint.value != choice and self.endpoint.value[0] == "endpoint":
                self.endpoint.value = choice
            self.temperature.value = current.temperature
            self.max_tokens.value = current.max_tokens
            if current.persona in self.persona.options:
                self.persona.value = current.persona
        finally:
            self._quiet = False

    def _say(self, text: str, *, error: bool = False) -> None:
        style = "color:#b00020" if error else "color:#666"
        self.note.value = f"<small style='{style}'>{escape(text)}</small>"
