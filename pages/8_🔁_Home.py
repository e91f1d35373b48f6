"""/Home: the deep link of the home page, as every other view has one (`/Train`, `/Masking`, …).

Streamlit serves the home page (app.py) at `/`; this page only sends a visitor of `/Home` there,
with the link's parameters (the language), instead of Streamlit's "page not found".
"""
from __future__ import annotations

import streamlit as st

st.switch_page("app.py", query_params=st.query_params.to_dict())
