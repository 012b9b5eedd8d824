"""``vq``: the command-line client of vq's REST API (the console script's entry point).

Layout: ``app`` parses arguments and maps errors to exit codes; ``commands`` and
``watch`` hold the queue commands; ``submit`` the workflow commands; ``params`` the
``--param`` parsing; ``offline`` the direct-to-database submit; ``http`` the client;
``output`` the environment (streams, colour, width) and table rendering.
"""

from .app import main
from .errors import ExitCode

__all__ = ["ExitCode", "main"]
