"""Operator: the server's jobs and load, for whoever serves the playground to a class."""
from __future__ import annotations

import streamlit as st

from ui.i18n import _
from ui.views import operator as view
from ui.widgets import start_page

start_page("Operator", "🛠️", job_badge=False)
st.title(_("🛠️ Operator"))
if view.unlocked():
    view.account_line()
    view.panels()
