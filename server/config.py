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
