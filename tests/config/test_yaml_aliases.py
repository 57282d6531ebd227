"""YAML aliases cannot make a small operating model expensive or crash the loader."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from revops.config.loader import ConfigError, load_config, parse_yaml

BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    f = tmp_path / "revops.yaml"
    f.write_text(BOMB)
    assert len(BOMB) < 400
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases expand to more than"):
        load_config(f)
    assert time.perf_counter() - started < 10  # it took 120 s and 680 MB before the budget


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {b: *a}\n", "x: &x\n  - y: *x\n"])
def test_recursive_alias_is_one_line_error(text: str) -> None:
    with pytest.raises(ConfigError, match="recursive alias") as info:
        parse_yaml(text, "revops.yaml")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("revops.yaml: line 1")


def test_ordinary_aliases_still_work() -> None:
    data, _ = parse_yaml("base: &b {x: 1, y: [2, 3]}\nother: *b\nlist: [*b, *b]\n", "r.yaml")
    assert data["other"] == {"x": 1, "y": [2, 3]}
    assert data["list"] == [data["base"], data["base"]]
    values, _ = parse_yaml("a: 1\nb: 2.5\nc: yes\nd: null\ne: 2024-01-01\nf: '007'\n", "r.yaml")
    assert values["a"] == 1
    assert values["b"] == 2.5
    assert values["c"] is True
    assert values["d"] is None
    assert str(values["e"]) == "2024-01-01"
    assert values["f"] == "007"
