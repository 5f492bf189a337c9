"""The night planner: lstosa's planning half, free of Airflow and of the Slurm layer.

RunSummary → ``plan.plan_night`` → ``NightPlan`` → ``tasks`` (``WorkItem``s, one per subrun for
job arrays) → the Slurm operator. ``status`` renders lstosa's sequencer table from task states.
"""
