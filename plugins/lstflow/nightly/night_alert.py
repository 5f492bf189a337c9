"""The "night not closed" warning: a Deadline Alert on the nightly DAG that mails through
Airflow's SMTP notifier (lstosa's closer mails "WARNING: <night> is not closed yet").

The deadline counts from when the night's run is queued, not from its logical date: a
reprocessing backfill of an old night would otherwise be past its deadline at creation. A run
that succeeds before the deadline removes it (Airflow prunes the deadlines of successful runs);
a run still running or failed at the deadline gets exactly one mail, sent by the triggerer.
"""

from __future__ import annotations

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from lstflow.nightly.night_options import alert_recipients, alert_smtp_conn_id, close_deadline

# Rendered by the notifier against the deadline's context: ``dag_run`` is the run as the REST
# API shows it (a mapping), ``deadline`` its id and time.
SUBJECT = "WARNING: {{ dag_run.logical_date[:10] }} is not closed yet"
BODY = (
    "<p>Night {{ dag_run.logical_date[:10] }} (DAG {{ dag_run.dag_id }}, run "
    "{{ dag_run.dag_run_id }}) has not closed by its deadline {{ deadline.deadline_time }}; "
    "its state is {{ dag_run.state }}.</p>"
)


def night_not_closed_alert() -> DeadlineAlert | None:
    """The DAG's deadline alert, or None when ``[lstflow] nightly_alert_to`` names no one."""
    recipients = alert_recipients()
    if not recipients:
        return None
    notify = AsyncCallback(
        SmtpNotifier,
        kwargs={
            "to": recipients,
            "subject": SUBJECT,
            "html_content": BODY,
            "smtp_conn_id": alert_smtp_conn_id(),
        },
    )
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=close_deadline(),
        callback=notify,
        name="night not closed",
    )
