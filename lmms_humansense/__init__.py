"""HumanSense (arXiv 2508.10576) as an lmms-eval plugin.

Importing the package does no I/O; lmms-eval finds the tasks through the ``lmms_eval.models``
entry point (see :mod:`lmms_humansense.registration`).
"""

from pathlib import Path

__version__ = "0.1.0"


def sample_root() -> Path:
    """The small sample set shipped in this package (the quick start and the tests use it).

    It lives here and not in :mod:`lmms_humansense.data.root` because that module is also exported
    into lmms-eval's task folder, where no sample set is shipped.
    """
    from importlib import resources

    return Path(str(resources.files("lmms_humansense") / "sample"))
