"""The FastAPI application."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from server.api import admin_checklists, auth, checkins, customers, member_audit, members, photos, sync
from server.api import alert_channels, alerts, content, customer_profiles, events, health_models, lead_rules, leads, scores
from server.db import get_engine
from server.errors import install_error_handlers

log = logging.getLogger("server")


@asynccontextmanager
async def lifespan(app: FastAPI):
    engine = get_engine()
    log.info("server starting, database=%s", engine.url.render_as_string(hide_password=True))
    yield
    log.info("server stopping")
    engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(
        title="外勤通 Field Sales API",
        version="0.1.0",
        description="Sign in with POST /api/auth/login, then send `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(customers.router)
    app.include_router(members.router)
    app.include_router(member_audit.router)
    app.include_router(sync.router)
    app.include_router(checkins.router)
    app.include_router(admin_checklists.router)
    app.include_router(photos.router)
    for scoring_and_alerts in (health_models, events, scores, customer_profiles, leads, lead_rules, alerts, alert_channels, content):
        app.include_router(scoring_and_alerts.router)

    @app.get("/api/health", tags=["health"])
    def health() -> dict[str, str]:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


app = create_app()
