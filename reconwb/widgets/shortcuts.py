"""Keyboard shortcuts for a screen of widgets: single keys that reach the kernel, with their legend on the screen.

ipywidgets has no key events, so this is a tiny anywidget (the same maintained widget runtime the explorer's
itables grid already loads): its browser side listens on the page for the keys it is given and sends each press
to the kernel, where `on_key` handlers do what a click would. Keys typed into a text field, or with Ctrl, Alt or
Cmd held, are left alone (people type "a" and "r" in a search box; the browser's own shortcuts keep working).
A key listed in `focus` moves the keyboard focus to the input with that CSS class instead (no kernel round trip).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

_ESM = """
function typing(target) {
  const tag = target && target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable);
}
export default {
  render({ model, el }) {
    el.classList.add('reconwb-shortcuts');
    const legend = () => { el.innerHTML = model.get('legend'); };
    legend();
    model.on('change:legend', legend);
    const press = (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const focus = model.get('focus')[key];
      if (focus) {
        const input = document.querySelector('.' + focus + ' input, input.' + focus);
        if (input) { event.preventDefault(); input.focus(); }
        return;
      }
      if (!model.get('listen').includes(key)) return;
      event.preventDefault();
      model.send({ key: key });
    };
    document.addEventListener('keydown', press);
    return () => document.removeEventListener('keydown', press);
  }
};
"""


class Shortcuts(anywidget.AnyWidget):
    """Keys -> kernel handlers, and a one-line legend saying which key does what."""

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    listen = traitlets.List(traitlets.Unicode()).tag(sync=True)  # (`keys` is ipywidgets' own)
    focus = traitlets.Dict().tag(sync=True)  # key -> CSS class of the input it focuses
    legend = traitlets.Unicode().tag(sync=True)

    def __init__(self, handlers: dict[str, Callable[[], Any]], said: list[tuple[str, str]], *,
                 focus: dict[str, str] | None = None) -> None:
        """`handlers`: key (lower case, as `KeyboardEvent.key`) -> what it does; `said`: (keys, meaning) pairs
        for the legend, in the order people should read them."""
        super().__init__(listen=sorted(handlers), focus=focus or {}, legend=legend_html(said))
        self.handlers = handlers
        self.on_msg(self._message)

    def press(self, key: str) -> Any:
        """Do what `key` does (what the browser sends when it is pressed); an unknown key does nothing."""
        handler = self.handlers.get(key)
        return handler() if handler is not None else None

    def _message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("key"), str):
            self.press(content["key"])


def legend_html(said: list[tuple[str, str]]) -> str:
    """`<kbd>J</kbd> next deposit · ...`: the keys shown on the screen that they work on."""
    items = " · ".join(
        " / ".join(f"<kbd>{html.escape(k)}</kbd>" for k in keys.split()) + f" {html.escape(meaning)}"
        for keys, meaning in said)
    return f"<div class='reconwb-shortcuts-legend' style='color:#57606a;font-size:0.9em'>Keyboard: {items}</div>"
