"""Video Queue (vq) for ComfyUI: a durable batch job queue with a sidebar tab, REST routes
and the `vq` command-line tool. ComfyUI imports this file; it adds no nodes."""

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
WEB_DIRECTORY = "./web"

import sys

# Only inside ComfyUI (which has imported its server module by now): test runners and
# tools that merely import this folder as a package must not start a queue.
if "server" in sys.modules:
    try:
        from .vq_extension.plugin import install as _install
    except Exception:  # a broken install must not take ComfyUI down with it
        import logging

        logging.getLogger("vq").exception("vq: Video Queue could not be imported; ComfyUI continues without it")
    else:
        _install()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
