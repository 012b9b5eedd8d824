"""``python -m vq_extension``: the same as the ``vq`` console script."""

from .cli import main

raise SystemExit(main())
