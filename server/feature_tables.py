"""Import the table modules of the health score, leads, alerts, content, jobs and store members, which registers their tables on SQLModel.metadata for Alembic."""

from server.alerts import models as alert_models  # noqa: F401
from server.content import models as content_models  # noqa: F401
from server.jobs import models as job_models  # noqa: F401
from server.leads import models as lead_models  # noqa: F401
from server.members import models as member_models  # noqa: F401
from server.scoring import models as scoring_models  # noqa: F401
