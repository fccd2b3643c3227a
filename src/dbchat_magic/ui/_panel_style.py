"""The panel's CSS (package-written, constant: no outside text ever reaches it).

Core ipywidgets have no key bindings and no ``resize`` layout trait, so what layout traits cannot
say lives here: bubbles, a resizable history, wrapping rows, and — in the transcript — the two
rules that show either the live panel or its plain transcript, never both (CSS ``:has()``): the
transcript hides while a rendered panel precedes it, and the widget output before it (JupyterLab's
"Loading widget…" / "Error displaying widget: model not found", which carry no data-mime-type)
hides while no panel renders there.
Colours come from JupyterLab's theme variables, so light and dark themes both read well.
"""

from __future__ import annotations

BUBBLE_CSS = """
.dbchat-history, .dbchat-transcript { display: flex; flex-direction: column; gap: 6px; }
.dbchat-bubble { border-radius: 10px; padding: 4px 10px 6px; box-sizing: border-box;
  max-width: 100%; color: var(--jp-ui-font-color1, #222); }
.dbchat-bubble .widget-html-content { line-height: 1.45; }
.dbchat-user { align-self: flex-end; max-width: 85%;
  background: var(--jp-layout-color3, #e3e8f0); }
.dbchat-assistant { align-self: stretch; background: var(--jp-layout-color2, #f3f3f3);
  border-left: 3px solid var(--jp-brand-color1, #1976d2); }
.dbchat-role { font-size: var(--jp-ui-font-size0, 11px); font-weight: 600;
  color: var(--jp-ui-font-color2, #555); }
.dbchat-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.dbchat-bubble img, .dbchat-bubble svg { max-width: 100%; height: auto; }
.dbchat-transcript small { color: var(--jp-ui-font-color2, #555); }
"""

PANEL_CSS = BUBBLE_CSS + """
.dbchat-panel { width: 100%; max-width: 100%; box-sizing: border-box; }
.dbchat-history-frame { resize: vertical; min-height: 8em; box-sizing: border-box;
  border: 1px solid var(--jp-border-color2, #ccc); border-radius: 6px; padding: 6px; }
.dbchat-history-frame > *, .dbchat-history > * { flex: 0 0 auto; }
.dbchat-row { flex-wrap: wrap; gap: 4px; align-items: flex-start; }
.dbchat-row > .widget-button, .dbchat-row > .widget-toggle-button { flex: 0 0 auto; }
.dbchat-settings .widget-hbox { flex-wrap: wrap; gap: 4px; }
.dbchat-question textarea, .dbchat-question input { width: 100%; }
.dbchat-compare { gap: 8px; }
.dbchat-compare-column { border-top: 1px solid var(--jp-border-color2, #ccc); padding-top: 2px; }
.dbchat-compare-summary, .dbchat-compare-summary .widget-html-content { white-space: normal;
  min-width: 0; max-width: 100%; height: auto; }
.dbchat-compare-table { border-collapse: collapse; font-size: var(--jp-ui-font-size0, 11px);
  margin-top: 4px; max-width: 100%; display: block; overflow-x: auto; }
.dbchat-compare-table th, .dbchat-compare-table td { padding: 1px 8px; text-align: left;
  border-bottom: 1px solid var(--jp-border-color2, #ccc); white-space: nowrap; }
@media (max-width: 800px) {
  .dbchat-panel .dbchat-compare { flex-direction: column; flex-wrap: nowrap; }
  .dbchat-panel .dbchat-compare > .dbchat-compare-column { flex: 0 0 auto; width: 100%;
    min-width: 0; }
  .dbchat-panel .dbchat-compare-table th, .dbchat-panel .dbchat-compare-table td {
    white-space: normal; padding: 1px 4px; }
  .dbchat-panel .dbchat-compare-table td { overflow-wrap: anywhere; }
}
"""

TRANSCRIPT_CSS = BUBBLE_CSS + """
.jp-OutputArea-child:has(.dbchat-panel) + .jp-OutputArea-child:has(.dbchat-transcript)
  { display: none; }
.jp-OutputArea-child:has(+ .jp-OutputArea-child .dbchat-transcript):not(:has(.dbchat-panel))
  > .jp-OutputArea-output:not([data-mime-type]) { display: none; }
"""
