"""The `calmodel` command line: the group, its exit codes, and each stage's command.

Each stage's click command lives with the stage (``calmodel/<stage>/cli.py``); this module
only registers them. Exit codes (the Nextflow error strategy relies on them):

    0   done
    2   bad input: a CalmodelError, printed as one line naming the file/field/value
    1   internal error: any other exception (CASA, PyBDSF, a bug), one line; the
        traceback with CALMODEL_DEBUG=1
    64  usage error: an unknown option, a missing or malformed value (click would exit 2,
        which would look like a bad tile)
    75  --out is being written by another calmodel process (EX_TEMPFAIL): nothing was
        touched; the workflow retries (in a new work folder)

A CASA stage that CASA's C++ code kills (SIGABRT, SIGSEGV, ...) also ends with exit 1 and
one line (``core.child``); SIGKILL stays 137.
"""

from __future__ import annotations

import os
import sys

import click

from calmodel import CalmodelError, __version__
from calmodel.build_model.cli import command as build_model_command
from calmodel.calibrate.cli import command as calibrate_command
from calmodel.catalog.cli import command as catalog_command
from calmodel.characterize.cli import command as characterize_command
from calmodel.compare.cli import command as compare_command
from calmodel.core import child
from calmodel.core.outputs import OutputBusyError
from calmodel.env import command as env_command
from calmodel.imaging.cli import command as image_command
from calmodel.realdata import command as real_samplesheet_command
from calmodel.report.cli import report_command
from calmodel.simulate.cli import command as simulate_command
from calmodel.simulate.sweep_cli import command as sweep_command

EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_USAGE = 64  # EX_USAGE of sysexits.h
EXIT_BUSY = 75  # EX_TEMPFAIL of sysexits.h

# The stages that send CASA's log to OUT/casa.log; the others (catalog, compare, report, env)
# write none, so their errors must not point at one.
CASA_LOG_STAGES = child.ISOLATED


class _Group(click.Group):
    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False  # so that usage errors reach the handler below
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as err:  # BadParameter, NoSuchOption, MissingParameter, ...
            err.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_INTERNAL)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if name in child.ISOLATED and child.report_dir() is None:
            # Options are checked here (usage errors, --help); the stage runs in a child,
            # so that a CASA crash still ends with FAILED and one line (core.child).
            with command.make_context(name, list(rest), parent=ctx):
                pass
            sys.exit(child.run_isolated(name, rest))
        return name, command, rest

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OutputBusyError as err:
            click.echo(f"calmodel: error: {err}", err=True)
            sys.exit(EXIT_BUSY)
        except CalmodelError as err:
            click.echo(f"calmodel: error: {err}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except Exception as err:  # CASA, PyBDSF or a bug: one line, the traceback only on request
            if os.environ.get("CALMODEL_DEBUG"):
                raise
            message = " ".join(str(err).split())[:300] or type(err).__name__
            where = "the stage's casa.log has details; " if ctx.invoked_subcommand in CASA_LOG_STAGES else ""
            click.echo(f"calmodel: error: {ctx.invoked_subcommand} failed: {message} "
                       f"({where}CALMODEL_DEBUG=1 shows the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="calmodel")
def main() -> None:
    """Decide, with numbers, whether a survey must calibrate with a spatial model
    of a resolved gain calibrator (VLASS Memo 19)."""


for _command in (env_command, simulate_command, characterize_command, catalog_command, compare_command,
                 calibrate_command, build_model_command, report_command, image_command,
                 real_samplesheet_command, sweep_command):
    main.add_command(_command)


if __name__ == "__main__":
    main()
