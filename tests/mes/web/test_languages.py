"""Every string in both languages: the zh-CN catalog covers everything the pages say, and a
Chinese page shows no English outside data (names from the plant's config are marked
``translate="no"``, as HTML defines). Screenshots of each main page in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages import checkers
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from mes.web.i18n import LOCALES, catalog, catalog_paths, negotiate
from tests.mes.web.live import get

MES = Path(__file__).resolve().parents[3] / "mes"  # pages, reports, notifications: all of mes/
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}}
PAGES = ("/andon", "/lines/line1", "/orders", "/oee", "/oee?period=week&by=product", "/admin")
NOT_WORDS = {"LineBrain", "English", "CSV", "XLSX"}  # the brand, the language switch, file formats


def extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(MES, METHODS, options_map=OPTIONS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_chinese_catalog_translates_every_string_of_the_pages() -> None:
    messages = extracted()
    assert len(messages) > 100
    chinese = catalog("zh_CN")
    missing = sorted(m for m in messages if m not in chinese or not chinese[m].string)
    fuzzy = sorted(m.id for m in chinese if m.id and m.fuzzy)
    assert missing == [] and fuzzy == [], f"untranslated: {missing}, fuzzy: {fuzzy}"
    problems = [(m.id, str(e)) for m in chinese if m.id for e in _check(chinese, m)]
    assert problems == []
    english = catalog("en")
    assert sorted(m for m in messages if m not in english) == []


def test_no_message_is_translated_two_ways_in_the_domains_catalog_files() -> None:
    for locale in LOCALES:
        seen: dict[str, tuple[str, str]] = {}
        for path in catalog_paths(locale):
            for message in read_po(path.open("rb"), locale=locale):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                first = seen.setdefault(key, (path.name, str(message.string)))
                assert first[1] == str(message.string), f"{locale}: {key!r} in {first[0]} and {path.name} differ"


def _check(catalog, message) -> list[Exception]:
    errors = []
    for checker in checkers.checkers:
        try:
            checker(catalog, message)
        except Exception as exc:  # TranslationError: placeholders differ
            errors.append(exc)
    return errors


def test_language_comes_from_the_choice_then_the_browser_then_chinese() -> None:
    assert negotiate(None, None) == "zh_CN"
    assert negotiate(None, "en-US,en;q=0.9") == "en"
    assert negotiate(None, "de-DE,zh-TW;q=0.8,en;q=0.5") == "zh_CN"
    assert negotiate(None, "fr-FR") == "zh_CN"
    assert negotiate("en", "zh-CN") == "en"
    assert negotiate("zh-CN", "en") == "zh_CN"


def test_pages_answer_in_the_browsers_language(live_plant) -> None:
    assert '<html lang="en">' in get(live_plant, "/login", headers={"accept-language": "en-GB,en;q=0.8"}).text
    assert '<html lang="zh-CN">' in get(live_plant, "/login", headers={"accept-language": "zh-CN,zh;q=0.9"}).text
    assert '<html lang="zh-CN">' in get(live_plant, "/login").text


VISIBLE_TEXT = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, parent = node.parentElement;
    if (!node.textContent.trim() || parent.closest('[translate=no], script, style, svg title')) continue;
    out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll('[aria-label], [title], input[placeholder]')) {
    if (!el.closest('[translate=no]')) out.push(el.getAttribute('aria-label') || el.title || el.placeholder || '');
  }
  return out;
}"""


def test_chinese_pages_leave_no_english_and_both_languages_are_photographed(live_plant, sign_in,
                                                                            screenshots) -> None:
    page = sign_in("supervisor", width=1024, height=768)
    for path in PAGES:
        page.goto(f"{live_plant.base_url}{path}{'&' if '?' in path else '?'}lang=zh_CN")
        words = {w for text in page.evaluate(VISIBLE_TEXT) for w in re.findall(r"[A-Za-z]{2,}", text)}
        assert words - NOT_WORDS == set(), f"English on the Chinese page {path}: {sorted(words - NOT_WORDS)}"
    for lang in ("zh_CN", "en"):
        for path in PAGES[:4]:
            page.goto(f"{live_plant.base_url}{path}?lang={lang}")
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(screenshots / f"{name}-{lang}.png"), full_page=True)
    page.close()
