"""The interactive UI (Textual). Nothing outside this package imports it."""
