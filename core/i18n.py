"""The interface's languages: gettext catalogs (locales/<lang>/LC_MESSAGES/messages.mo).

The playground speaks English (the source strings) and Simplified Chinese, in the words of
the book's Chinese edition (zh.d2l.ai; `locales/glossary.tsv`). Catalogs are maintained with
Babel (extract / update / compile: README, "Adding a language") and read with the standard
`gettext` module. The engine's own user-facing texts are translated here too, so `core` stays
free of Streamlit: the Exercises' readings take the language as a parameter, and everything
the engine *says* (error messages, a job's status line, trace labels) is a `Text`: English
wherever it is used as a string (logs, the CLI, tests), and `text_in(message, lang)` in the
reader's language wherever the interface shows it.
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


class Text(str):
    """A message of the engine: its English text, which remembers its catalog entry and values.

    `Text("{name}: no such file", name=path)` is the string "data.tsv: no such file" to every
    caller that treats it as one; `text_in(it, "zh")` formats the Chinese entry of the same
    template with the same values. Values that are `Text`s themselves are translated too;
    other values (names, numbers, the user's own text) are shown as they are. Babel extracts
    the template like any `_("…")` (babel.cfg / scripts/i18n.py: the keyword `Text`).
    """

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Text:
        text = super().__new__(cls, template.format(**values))
        text.template, text.values = template, values
        return text

    def __reduce__(self):
        # a Text crosses to and from worker processes (and Ray) as what it is, not a bare str
        return _rebuilt, (self.template, self.values)

    def told_in(self, lang: str) -> str:
        values = {key: text_in(value, lang) if isinstance(value, Text) else value
                  for key, value in self.values.items()}
        return translator(lang)(self.template).format(**values)


def _rebuilt(template: str, values: dict[str, object]) -> Text:
    return Text(template, **values)


def message_of(err: BaseException) -> str:
    """What an exception says, as a value of another message: the `Text` it was raised with
    (translated with it), else `str(err)` (a KeyError's quoted key, a library's own words)."""
    said = err.args[0] if len(err.args) == 1 else None
    return said if isinstance(said, Text) and said == str(err) else str(err)


def text_in(message: object, lang: str) -> str:
    """What the engine said, in `lang`: a `Text`, or an exception raised with one. Anything else
    (a run's name, a file name, a library's own words) is shown as `str()` gives it: a plain
    string is never looked up in the catalogs, so a run called "Model" stays "Model"."""
    if isinstance(message, BaseException):
        message = message_of(message)
    return message.told_in(lang) if isinstance(message, Text) else str(message)


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
