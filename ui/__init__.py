"""Streamlit helpers shared by the pages: session state, sidebar, input widgets.

Pages stay thin: they lay out what these helpers and ``core`` return.
"""
