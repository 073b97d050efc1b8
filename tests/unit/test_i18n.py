"""The page's dictionaries (ui/i18n.py): every language has every key, every key the page
uses exists, and a request's language is read as the browser and the switch say."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from service.labels import LEADERBOARD_RULES
from ui.i18n import (
    COOKIE,
    EN,
    LANGUAGE_SCRIPT,
    NAV_PAGES,
    TRANSLATIONS,
    ZH_CN,
    accepted_language,
    request_language,
    say,
    t,
)

UI = Path(__file__).resolve().parents[2] / "ui"
NAMESPACES = {key.split(".")[0] for key in EN}
KEY = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _keys_in_ui() -> dict[str, set[str]]:
    """String constants of ui/*.py that look like keys of our namespaces, by how they are
    used: `static` (t: the browser translates them), `python` (say) and `other`
    (tables of keys: OUTCOMES, PLOTS, COLUMN_KEYS, NAV_PAGES, ...)."""
    found: dict[str, set[str]] = {"static": set(), "python": set(), "other": set()}
    for path in UI.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_calls: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                args = node.args
                if node.func.id == "t" and args:
                    target, kind = args[0], "static"
                elif node.func.id == "say" and len(args) >= 2:
                    target, kind = args[1], "python"
                else:
                    continue
                if isinstance(target, ast.Constant) and isinstance(target.value, str):
                    found[kind].add(target.value)
                    in_calls.add(id(target))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):  # a key is written whole, never pieced
                assert not any(
                    isinstance(part, ast.Constant)
                    and isinstance(part.value, str)
                    and re.match(r"^[a-z_]+\.[a-z0-9_]*$", part.value)
                    and part.value.split(".")[0] in NAMESPACES
                    for part in node.values
                ), f"{path.name}:{node.lineno}: a key made with an f-string"
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in in_calls
                and KEY.match(node.value)
                and node.value.split(".")[0] in NAMESPACES
            ):
                found["other"].add(node.value)
    return found


def test_every_language_has_the_same_keys() -> None:
    assert set(ZH_CN) == set(EN)
    for code, words in TRANSLATIONS.items():
        assert set(words) == set(EN), code
        assert all(text.strip() for text in words.values()), code


def test_every_translation_takes_the_same_values() -> None:
    for key, english in EN.items():
        for code, words in TRANSLATIONS.items():
            assert _placeholders(words[key]) == _placeholders(english), (code, key)


def test_every_key_the_page_uses_exists() -> None:
    used = _keys_in_ui()
    assert len(used["static"]) > 80 and len(used["python"]) > 30  # the scan finds them
    for kind, keys in used.items():
        missing = sorted(keys - set(EN))
        assert not missing, f"{kind} keys missing from ui/i18n.py: {missing}"


def test_keys_the_browser_translates_take_no_values() -> None:
    """The browser formats a key without values: a `{name}` in one would show as written
    (or break the message formatter)."""
    for key in _keys_in_ui()["static"]:
        for code, words in TRANSLATIONS.items():
            assert "{" not in words[key] and "}" not in words[key], (code, key)


def test_chinese_is_chinese() -> None:
    """Every Chinese text carries Han characters, but for the product's name, a separator
    the token counts (`token` is what Chinese practitioners write too), Elo and ID."""
    han = re.compile(r"[\u4e00-\u9fff]")
    without = {key for key, text in ZH_CN.items() if not han.search(text)}
    kept = {"app.title", "status.list_separator", "metrics.tokens", "lb.col_elo", "docs.col_id"}
    assert without == kept


def test_say_formats_in_the_language_asked_and_falls_back_to_english() -> None:
    assert say("zh-CN", "status.stopped", count=2) == "已停止 2 个窗格。"
    assert say("en", "status.stopped", count=2) == "Stopped 2 pane(s)."
    assert say("fr", "status.ask_named") == "Vote for the better answer."
    # Values are inserted, not parsed: braces in a variant's name stay as they are.
    assert say("en", "vote.preferred", winner="{a}", loser="b") == "You preferred {a} over b."
    with pytest.raises(KeyError):
        t("no.such_key")
    # What the page translates: the same string as Gradio's own I18n gives.
    assert t("board.send") == str(gr.I18n(**TRANSLATIONS)("board.send"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-TW,en;q=0.5", "zh-CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,zh-CN;q=0.8,en;q=0.7", "zh-CN"),
        ("fr-FR,en;q=0.9,zh;q=0.8", "en"),
        ("en;q=0.5,zh;q=0.9", "zh-CN"),  # by weight, not position
        ("zh;q=0,en", "en"),  # q=0: not acceptable
        ("de, ja", "en"),
        ("", "en"),
        (None, "en"),
        ("zh;q=abc", "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert accepted_language(header) == expected


def test_the_switch_cookie_wins_over_the_browser() -> None:
    chinese_browser = {"accept-language": "zh-CN,zh;q=0.9"}
    assert request_language(SimpleNamespace(headers=chinese_browser, cookies={})) == "zh-CN"
    switched = SimpleNamespace(headers=chinese_browser, cookies={COOKIE: "en"})
    assert request_language(switched) == "en"
    english = SimpleNamespace(headers={"accept-language": "en-US"}, cookies={COOKIE: "zh-CN"})
    assert request_language(english) == "zh-CN"
    junk = SimpleNamespace(headers={"accept-language": "zh"}, cookies={COOKIE: "<b>"})
    assert request_language(junk) == "zh-CN"
    assert request_language(None) == "en"


def test_the_language_script_names_every_page_in_every_language() -> None:
    assert LANGUAGE_SCRIPT.startswith("<script>") and LANGUAGE_SCRIPT.endswith("</script>")
    assert "__" + "COOKIE__" not in LANGUAGE_SCRIPT and COOKIE in LANGUAGE_SCRIPT
    for key in NAV_PAGES.values():
        assert ZH_CN[key] in LANGUAGE_SCRIPT
    assert LANGUAGE_SCRIPT.count("</script>") == 1


def test_the_leaderboard_rules_are_the_services_own_words() -> None:
    assert EN["lb.rules"] == LEADERBOARD_RULES
