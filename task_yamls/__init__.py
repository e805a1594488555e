"""The lmms-eval task folder (generated from lmms_humansense/catalog.py; see taskgen.py)."""
