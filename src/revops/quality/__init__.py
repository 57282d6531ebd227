"""Data quality: validation and normalization rules, fix/undo, the UTM audit and the scorecard.

Submodules are imported where needed (`from revops.quality.check import check`), so importing
the package stays cheap for the CLI.
"""
