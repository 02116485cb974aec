"""Where the default index lives, and where the bundled sample articles are.

The default index is ``$SEARCHLIB_INDEX``, else ``<user data dir>/searchlib/index``
(platformdirs: ``~/.local/share/searchlib/index`` on Linux). The sample articles are the
files of the repository's ``seeds/``, packaged into the wheel as ``searchlib/_seeds``.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

__all__ = ["default_index_path", "seeds_path"]

ENV_INDEX = "SEARCHLIB_INDEX"


def default_index_path() -> Path:
    configured = os.environ.get(ENV_INDEX)
    if configured:
        return Path(configured).expanduser()
    return Path(user_data_dir("searchlib", appauthor=False)) / "index"


def seeds_path() -> Path:
    """The bundled sample articles (in the wheel, or in a source checkout)."""
    packaged = Path(__file__).with_name("_seeds")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "seeds"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("the bundled sample articles (searchlib/_seeds) are missing")
