"""The extension schedules its Celery beat entries itself (``CELERY_BEAT_SCHEDULE``)."""

import pytest
from flask import Flask

from invenio_stats_dashboard.config import COMMUNITY_STATS_CELERYBEAT_SCHEDULE
from invenio_stats_dashboard.ext import InvenioStatsDashboard

ENTRY = "community-stats-aggregation"
TASK = "invenio_stats_dashboard.aggregations.tasks.aggregate_community_stats"
SITE_ENTRY = {"task": "invenio_app_rdm.some_task", "schedule": 60}


def _schedule(**config) -> dict:
    """The beat schedule of a bare app with ``config``, after the extension's merge."""
    app = Flask("beat-test")
    app.config.update(config)
    InvenioStatsDashboard.init_config(app)
    InvenioStatsDashboard.register_beat_schedule(app)
    return app.config.get("CELERY_BEAT_SCHEDULE")


def test_entry_merged_beside_the_sites_own():
    """By default the package's hourly entry joins the site's schedule, which stays whole."""
    schedule = _schedule(CELERY_BEAT_SCHEDULE={"site-task": SITE_ENTRY})

    assert schedule == {"site-task": SITE_ENTRY, **COMMUNITY_STATS_CELERYBEAT_SCHEDULE}
    assert schedule[ENTRY]["task"] == TASK
    assert _schedule()[ENTRY]["task"] == TASK  # a site without any schedule


def test_sites_entry_of_the_same_name_wins():
    """A site that pasted (or changed) the entry keeps its own."""
    own = {"task": TASK, "schedule": 24 * 60 * 60}

    assert _schedule(CELERY_BEAT_SCHEDULE={ENTRY: own})[ENTRY] == own


@pytest.mark.parametrize(
    "switch", ["COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED", "COMMUNITY_STATS_ENABLED"]
)
def test_nothing_scheduled_when_switched_off(switch):
    """Either switch off: the site's schedule is left exactly as it was."""
    site = {"site-task": SITE_ENTRY}

    assert _schedule(CELERY_BEAT_SCHEDULE=site, **{switch: False}) == site
    assert _schedule(**{switch: False}) is None


def test_real_app_and_celery_see_the_entry(app):
    """In the test site both the Flask config and Celery's copy of it carry the entry."""

    celery = app.extensions["flask-celeryext"].celery

    assert app.config["CELERY_BEAT_SCHEDULE"][ENTRY]["task"] == TASK
    assert celery.conf.beat_schedule[ENTRY]["task"] == TASK
