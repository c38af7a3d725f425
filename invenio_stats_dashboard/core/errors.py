"""Failures of the services the package depends on, as one line for an operator.

:func:`describe_failure` names a search-engine, database, Redis or bulk-write failure in
one line; :class:`OneLineErrorsGroup` is a click group whose commands print that line on
stderr and exit 1 instead of a traceback, and print bad input as one line too (exit 2);
both extensions' command groups use it.
"""

from __future__ import annotations

import re

import click

# The exit-code contract of every command of both extensions (docs/index.md, "Exit codes"):
EXIT_OK = 0  # the run finished and every item was handled
EXIT_FAILURE = 1  # the run failed or stopped early (a service failed, a lock was held, ...)
EXIT_USAGE = 2  # bad options or arguments (click's own code for usage errors)
EXIT_ITEM_ERRORS = 3  # the run finished, but some items could not be handled (listed)


def describe_failure(error: BaseException) -> str | None:
    """One line for a failure of a service the commands depend on (None: not one)."""
    from opensearchpy.exceptions import ConnectionError as EngineConnectionError
    from opensearchpy.exceptions import ConnectionTimeout, TransportError
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    from .bulk import BulkWriteError
    from .locks import LockHeld, RunDeadlineExceeded
    from .timeouts import database_timeout

    if isinstance(error, LockHeld | RunDeadlineExceeded):
        return str(error)
    if isinstance(error, ConnectionTimeout):
        return (
            f"the search engine did not answer within {_timeout_of(error)}; what was "
            "finished is kept, run it again when the engine answers."
        )
    if isinstance(error, EngineConnectionError):
        return f"the search engine cannot be reached ({type(error).__name__}: {error.error})"
    if isinstance(error, TransportError):
        info = error.info if isinstance(error.info, dict) else {}
        reason = (info.get("error") or {}) if isinstance(info.get("error"), dict) else {}
        detail = reason.get("reason") or error.error or str(error)
        return f"the search engine answered {error.status_code}: {detail}"
    if isinstance(error, BulkWriteError):
        return f"writing to the search engine failed: {error}"
    if isinstance(error, SQLAlchemyError) and is_statement_timeout(error):
        return (
            f"the database did not answer within {database_timeout():g} s "
            "(COMMUNITY_STATS_DATABASE_TIMEOUT): another process may hold a lock on the rows "
            "or tables this command needs; what was finished is kept, run it again later."
        )
    if isinstance(error, SQLAlchemyError):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"the database failed: {first}"
    if isinstance(error, RedisError):
        return f"Redis failed: {error}"
    return None


def _timeout_of(error: BaseException) -> str:
    """How long the request waited: the client's figure, named after our setting if ours."""
    from .timeouts import search_timeout

    found = re.search(r"timeout=(\d+(?:\.\d+)?)", str(error))
    if found is None:
        return "its timeout"
    seconds = float(found.group(1))
    if seconds == search_timeout():
        return f"{seconds:g} s (COMMUNITY_STATS_SEARCH_TIMEOUT)"
    return f"{seconds:g} s"


def is_statement_timeout(error: BaseException) -> bool:
    """True for a statement PostgreSQL cancelled at ``statement_timeout``."""
    original = getattr(error, "orig", None)
    return type(original).__name__ == "QueryCanceled" or "statement timeout" in str(error)


def _push_app_context(ctx: click.Context) -> None:
    """Push the app's context for the rest of the command, unless one is active."""
    from flask import current_app
    from flask.cli import ScriptInfo

    info = ctx.find_object(ScriptInfo)
    if not current_app and info is not None:
        ctx.with_resource(info.load_app().app_context())


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line on stderr (click's own takes four)."""

    def show(self, file=None) -> None:
        """``Error: <message> (see '<command> --help')``."""
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", err=True)


class OneLineErrorsGroup(click.Group):
    """A command group whose commands fail in one line: bad input (exit 2), a service (1)."""

    def invoke(self, ctx):
        """Run the command; usage errors and service failures become one line on stderr.

        The app context is pushed first: option callbacks (community ids resolved in the
        database) run while the command line is parsed, before ``with_appcontext`` would
        push it. Flask pushes it for app commands, not for ``flask.commands`` plugins
        like these groups.
        """
        from .timeouts import bounded_database_statements

        _push_app_context(ctx)
        try:
            with bounded_database_statements():
                return super().invoke(ctx)
        except OneLineUsageError:
            raise
        except click.UsageError as error:
            raise OneLineUsageError(error.format_message(), error.ctx) from None
        except Exception as error:
            message = describe_failure(error)
            if message is None:
                raise
            click.echo(f"Error: {message}", err=True)
            ctx.exit(EXIT_FAILURE)
