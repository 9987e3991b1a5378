"""Widgets shared by the areas."""
