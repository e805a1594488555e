"""Model classes this package registers with lmms-eval through the ``lmms_eval.models`` entry point."""
