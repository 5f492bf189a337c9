"""Development job-side code: run as the cluster's job user, in the analysis environment.

Launchers put ``dev/`` on the job's ``PYTHONPATH`` (``lstflow_dev.checkout.job_pythonpath``).
"""
