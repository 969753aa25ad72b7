"""Figures, tables from metrics files, report rendering and the notebook runner."""
