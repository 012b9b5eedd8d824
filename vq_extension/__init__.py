"""vq (Video Queue): a durable batch job queue for ComfyUI. See DESIGN in the README."""

__version__ = "0.1.0"
