"""The glossary expander on Home: the book's terms in English and in the Chinese edition."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.i18n import glossary

from .i18n import _


def glossary_expander() -> None:
    with st.expander(_("📖 Glossary: the book's terms in English and Chinese (zh.d2l.ai)")):
        st.caption(_("The words this playground uses for the chapter's ideas, as the book's Chinese edition "
                     "and the notes use them. Translators use the same list (`locales/glossary.tsv`)."))
        st.dataframe(pd.DataFrame([{"English": t.english, "中文": t.chinese, _("note"): t.note} for t in glossary()]),
                     hide_index=True, key="home.glossary")
