"""Query parameters and execution shared by the paged list endpoints."""

from typing import Annotated

from fastapi import Query
from sqlmodel import Session, col, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]


def filter_by_text(query: SelectOfScalar, text: str, *columns) -> SelectOfScalar:
    """Keep rows where any of `columns` contains `text` (no filter for blank text)."""
    text = text.strip()
    if not text:
        return query
    pattern = f"%{text}%"
    return query.where(or_(*(col(column).like(pattern) for column in columns)))


def fetch_page(session: Session, query: SelectOfScalar, order_by: tuple, limit: int, offset: int) -> tuple[list, int]:
    """Return one page of `query` in a stable order, and the total row count."""
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*order_by).offset(offset).limit(limit)).all()
    return list(rows), total
