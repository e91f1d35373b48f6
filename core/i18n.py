"""The interface's languages: gettext catalogs (locales/<lang>/LC_MESSAGES/messages.mo).

The playground speaks English (the source strings) and Simplified Chinese, in the words of
the book's Chinese edition (zh.d2l.ai; `locales/glossary.tsv`). Catalogs are maintained with
Babel (extract / update / compile: README, "Adding a language") and read with the standard
`gettext` module. The engine's own user-facing texts (the Exercises' readings) are translated
here too, so `core` stays free of Streamlit: a caller passes the language.
"""
from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "zh": "简体中文"}   # code -> its own name, as the picker shows it
DEFAULT_LANGUAGE = "en"


def N_(message: str) -> str:
    """Marks a message for the catalogs where it is defined (a module-level table); it is
    translated where it is shown, once the reader's language is known."""
    return message


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang`; English is the source text itself."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    if lang == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def translator(lang: str) -> Callable[[str], str]:
    return translations(lang).gettext


def language_of(tag: str | None) -> str | None:
    """'zh-CN', 'zh_Hans', 'zh-TW;q=0.8' -> 'zh'; 'en-GB' -> 'en'; anything else -> None."""
    if not tag:
        return None
    code = tag.split(";")[0].strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header that the playground speaks."""
    for part in (header or "").split(","):
        lang = language_of(part)
        if lang:
            return lang
    return None


GLOSSARY = LOCALE_DIR / "glossary.tsv"


@dataclass(frozen=True)
class Term:
    english: str
    chinese: str
    note: str = ""


def glossary() -> list[Term]:
    """The book's terms and the Chinese edition's words for them (locales/glossary.tsv)."""
    terms = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, chinese, *note = line.split("\t")
            terms.append(Term(english.strip(), chinese.strip(), (note[0] if note else "").strip()))
    return terms
