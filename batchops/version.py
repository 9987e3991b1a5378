"""``batchops --version``: the package version, plus the build's commit and date in the single executable.

``scripts/build_binary.py`` writes ``batchops/_build_info.py`` into the copy it bundles; a pip
install has no such module and prints the version alone.
"""

from __future__ import annotations


def describe() -> str:
    from batchops import __version__

    try:
        from batchops import _build_info  # type: ignore[attr-defined]  # generated at build time only
    except ImportError:
        return f"batchops {__version__}"
    return f"batchops {__version__} (single executable: commit {_build_info.COMMIT}, built {_build_info.BUILT})"
