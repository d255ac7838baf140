"""What every CLI command gets: settings, and sessions on a migrated database (never migrates itself)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import click

from emr_core.settings import Settings

if TYPE_CHECKING:  # imported when a command first asks for the database: `sgm deidentify --help` needs none
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


@dataclass
class CliContext:
    settings: Settings
    _checked: bool = field(default=False, init=False)

    @cached_property
    def engine(self) -> Engine:
        from emr_core.db import make_engine

        self.settings.root.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.url)

    def sessions(self) -> sessionmaker[Session]:
        """A session factory, refusing to run against a database that is not migrated."""
        from emr_core.db import make_session_factory
        from emr_core.migrate import NotMigratedError, require_current

        if not self._checked:
            try:
                require_current(self.engine)
            except NotMigratedError as exc:
                raise click.ClickException(str(exc)) from None
        self._checked = True
        return make_session_factory(self.engine, self.settings)


pass_cli = click.make_pass_decorator(CliContext)
