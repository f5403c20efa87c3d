"""Notebook front-ends (ipywidgets) of the core: parameter forms and views."""
