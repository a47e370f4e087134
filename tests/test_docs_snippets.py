"""The getting-started snippets run as pasted (a newcomer pasted the Starlette one and got
``routes=[...]``, a literal ellipsis): each page's first Python block is executed in a
fresh folder with ``templates/`` and ``static/``, and must leave a working ``app``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FIRST_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", ["quart.md", "starlette.md", "fastapi.md"])
def test_docs_getting_started_snippet_runs_as_pasted(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = FIRST_BLOCK.search((DOCS / "getting-started" / page).read_text())
    assert found is not None, page
    (tmp_path / "templates").mkdir()
    (tmp_path / "static").mkdir()
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "snippet"}
    exec(compile(found.group(1), page, "exec"), namespace)
    assert callable(namespace["app"])  # an ASGI app
    assert "..." not in found.group(1).replace("# ...", "")
