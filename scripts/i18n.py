"""Maintain the catalogs: extract the messages, update each language, compile.

    python scripts/i18n.py            # after changing or adding a message in the code
    python scripts/i18n.py --check    # what tests/test_i18n.py checks: exit 1 if anything is stale

Babel extracts every `_("…")`, `N_("…")` and `Text("…", …)` of app.py, pages/, ui/ and core/ (babel.cfg) into
locales/messages.pot; each locales/<lang>/LC_MESSAGES/messages.po is updated from it (new
messages come in empty, removed ones go), translations waiting in locales/<lang>/new/*.json
({"English": "translation"}) are filled in, English's own catalog gets msgstr = msgid, and
each .po is compiled to the .mo the app reads (committed, so the app needs no Babel).
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.i18n import LANGUAGES  # noqa: E402  (the one list of the interface's languages)

LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
KEYWORDS = {"_": None, "N_": None, "Text": None}


def extract() -> Catalog:
    catalog = Catalog(project="seq2seq playground", charset="utf-8")
    with open(ROOT / "babel.cfg") as cfg:
        from babel.messages.frontend import parse_mapping_cfg
        method_map, options_map = parse_mapping_cfg(cfg)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def updated(lang: str, template: Catalog) -> Catalog:
    path = po_path(lang)
    if path.is_file():
        with open(path, "rb") as f:
            catalog = read_po(f, locale=lang)
    else:
        catalog = Catalog(locale=lang, project="seq2seq playground", charset="utf-8")
    catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)   # update shares the template's messages
    catalog.obsolete.clear()
    waiting = sorted((LOCALES / lang / "new").glob("*.json"))
    for part in waiting:
        for msgid, msgstr in json.loads(part.read_text(encoding="utf-8")).items():
            if msgid in catalog and msgstr:
                catalog[msgid].string = msgstr
    for message in catalog:
        if not message.id:
            continue
        if lang == "en":
            message.string = message.id
        message.flags.discard("fuzzy")
    return catalog


FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)   # no date churn: the files change only with the messages


def serialized(catalog: Catalog, writer) -> bytes:
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    buffer = io.BytesIO()
    writer(buffer, catalog)
    return buffer.getvalue()


def write_po_bytes(buffer, catalog) -> None:
    write_po(buffer, catalog, omit_header=False, sort_output=True, no_location=True, width=100)


def messages_of(path: Path) -> set[str]:
    from babel.messages.extract import extract_from_file
    return {m[1] for m in extract_from_file("python", str(path), keywords=KEYWORDS) if isinstance(m[1], str)}


def missing_in(part: Path, files: list[Path]) -> int:
    """For a translator at work: what FILES say that PART does not translate yet."""
    done = json.loads(part.read_text(encoding="utf-8")) if part.is_file() else {}
    missing = sorted({m for f in files for m in messages_of(f)} - {k for k, v in done.items() if v})
    for message in missing:
        print(json.dumps(message, ensure_ascii=False))
    print(f"{len(missing)} message(s) without a translation in {part}", file=sys.stderr)
    return 1 if missing else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    p.add_argument("--missing-in", metavar="JSON", help="change nothing; list the messages of FILES that "
                   "JSON ({english: translation}) does not translate")
    p.add_argument("files", nargs="*", help="with --missing-in: the source files to look at")
    args = p.parse_args(argv)
    if args.missing_in:
        return missing_in(Path(args.missing_in), [Path(f) for f in args.files])
    template = extract()
    outputs = {POT: serialized(template, write_po_bytes)}
    for lang in LANGUAGES:
        catalog = updated(lang, template)
        outputs[po_path(lang)] = serialized(catalog, write_po_bytes)
        outputs[po_path(lang).with_suffix(".mo")] = serialized(catalog, write_mo)
    stale = [path for path, data in outputs.items() if not path.is_file() or path.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/i18n.py)")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(outputs[path])
    for lang in LANGUAGES:
        for part in (LOCALES / lang / "new").glob("*.json"):
            part.unlink()
    print(f"{len(template)} messages; wrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
