"""calmodel: does a spatial model of a resolved gain calibrator change the science?"""

__version__ = "0.1.0"


class CalmodelError(Exception):
    """An error the user can act on; the CLI prints it as one line and exits non-zero."""
