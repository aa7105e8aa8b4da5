"""mkdocs hook: the config groups and their options, read from the package's config tree when
the site is built, so that a new group or option appears on the page by itself.

A page asks for the tables with `<!-- config-groups -->...<!-- /config-groups -->`; what
stands between the markers (a pointer for readers of the Markdown source) is replaced. Each
option is described by the first sentence of the comment at the top of its YAML file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CONF = Path(__file__).resolve().parents[2] / "src" / "llmhpo" / "conf"
MARKED = re.compile(r"<!-- config-groups -->.*?<!-- /config-groups -->", re.DOTALL)
LISTED_ONLY = {"task"}  # groups of many like options: their names, without a row each
HIDDEN = {"hydra"}  # Hydra's own groups, documented by Hydra


def first_sentence(path: Path) -> str:
    """The first sentence of the file's top comment (after any `# @package` line)."""
    words: list[str] = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            if words:
                break
            continue
        text = line.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        words.append(text)
        if re.search(r"\.(\s|$)", text):
            break
    sentence = " ".join(words)
    return re.split(r"(?<=\.)\s", sentence, maxsplit=1)[0].replace("|", "\\|")


def groups() -> list[Path]:
    return sorted(p for p in CONF.iterdir() if p.is_dir() and p.name not in HIDDEN
                  and not p.name.startswith("_"))  # fmt: skip


def tables() -> str:
    parts = []
    for group in groups():
        options = sorted(group.glob("*.yaml"))
        parts.append(f"**`{group.name}`**\n")
        if group.name in LISTED_ONLY:
            parts.append(", ".join(f"`{o.stem}`" for o in options) + "\n")
            continue
        rows = [f"| `{group.name}=` | what it is |", "| --- | --- |"]
        rows += [f"| `{o.stem}` | {first_sentence(o)} |" for o in options]
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKED.sub(lambda _match: tables(), markdown)
