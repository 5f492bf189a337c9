"""The night planner: lstosa's planning half, free of Airflow and of the Slurm layer.

Use from a DAG (one run per observation night; the logical date is the night)::

    s = settings.load_settings()            # defaults/lst1_onsite.yaml + $LSTFLOW_ONSITE_BASE
    v = settings.build_version(s, conf)     # DAG-run conf: prod_id, env, configs, RF models
    f = files.NightFiles(ClusterFiles(hook))  # the onsite tree, read over SSH, cached
    p = plan.plan_night(s, night, v, f)     # calibration look-back, R0 subruns, exclusions
    t = tasks.NightTasks(s, p, f, JobMode(simulate=...))
    t.drs4_baseline(), t.charge_calibration()      # () when the calibration file exists
    per run: r0_to_dl1 (array) → tailcut_finder → tailcut() → dl1ab, datacheck_subruns
             (arrays) → merge_dl1, merge_muons, rf_model() → dl1_to_dl2, datacheck_run
    per night: longterm_datacheck → provenance_merge → night_close
    t.array_spec(step, items, run_id)       # ArraySpec for the Slurm operator

``status`` renders lstosa's sequencer table (text/JSON).
"""
