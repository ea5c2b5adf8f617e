"""Server settings, read from the environment (and an optional `.env` file)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=REPO_ROOT / "data",
        description="Directory for the embedded SQLite database and stored files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@127.0.0.1:5432/fieldsales. "
        "Unset means an embedded SQLite file in DATA_DIR.",
    )
    token_ttl_minutes: int = Field(
        default=60 * 24 * 7,
        gt=0,
        description="Lifetime of a bearer token in minutes.",
    )
    log_level: str = "INFO"
    geofence_radius_m: float = Field(
        default=500.0,
        gt=0,
        description="Check-in geofence radius in metres for customers without their own radius.",
    )
    photo_dir: Path | None = Field(
        default=None,
        description="Directory for uploaded visit photos. Unset means DATA_DIR/photos.",
    )
    photo_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest photo upload accepted, in bytes (default 10 MiB).",
    )
    integration_api_key: str | None = Field(
        default=None,
        min_length=16,
        description="Key that integrations (website, hotline, marketing tools) send in the X-Api-Key header "
        "to POST /api/events and /api/leads. Unset means only signed-in users may call them.",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for a WeCom or DingTalk robot's response before the attempt counts as timed out.",
    )
    jpush_app_key: str | None = Field(
        default=None,
        description="JPush app key for mobile push of alerts. Unset means pushes are only logged.",
    )
    jpush_master_secret: str | None = Field(
        default=None,
        description="JPush master secret that goes with JPUSH_APP_KEY.",
    )
    jpush_api_url: str = Field(
        default="https://api.jpush.cn",
        description="Base URL of the JPush REST API (https://bjapi.push.jiguang.cn for apps in JPush's Beijing data centre).",
    )
    jpush_apns_production: bool = Field(
        default=True,
        description="Send iOS notifications through APNs production (false: the APNs sandbox, for development builds).",
    )

    @property
    def effective_photo_dir(self) -> Path:
        return self.photo_dir or self.data_dir / "photos"

    @property
    def effective_database_url(self) -> str:
        url = self.database_url
        if url:
            # Plain postgresql:// would pick psycopg2, which is not installed; psycopg 3 is.
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix):]
            return url
        return f"sqlite:///{self.data_dir / 'fieldsales.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
