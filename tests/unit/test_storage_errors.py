"""Errors at the database boundary: every SQLAlchemy error becomes a StorageError that names it."""

from __future__ import annotations

import pathlib

import pytest
import sqlalchemy as sa

from appjobs import errors
from appjobs.storage.database import connect


def test_an_error_sqlalchemy_raises_itself_is_a_storage_error_naming_it(tmp_path: pathlib.Path) -> None:
    """NoResultFound has no driver error behind it (no ``.orig``): still a StorageError, not an AttributeError."""
    db = connect(f"sqlite:///{tmp_path}/x.db")
    try:
        with pytest.raises(errors.StorageError, match="NoResultFound"), db.read() as conn:
            conn.execute(sa.select(sa.literal(1)).where(sa.false())).one()
    finally:
        db.close()
