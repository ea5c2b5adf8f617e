"""Deterministic demo data: an industrial-automation maker's sales force and a baby-products store chain."""

from server.seed.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoLogin,
    DemoLogins,
    DemoOrganisation,
    build_demo_organisation,
    load_demo_organisation,
)

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DemoLogin",
    "DemoLogins",
    "DemoOrganisation",
    "build_demo_organisation",
    "load_demo_organisation",
]
