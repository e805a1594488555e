"""HumanSense (arXiv 2508.10576) as an lmms-eval plugin.

Importing the package does no I/O; lmms-eval finds the tasks through the ``lmms_eval.models``
entry point (see :mod:`lmms_humansense.registration`).
"""

__version__ = "0.1.0"
