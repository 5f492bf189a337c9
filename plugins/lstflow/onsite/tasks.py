"""The night's work items: one per subrun for the job arrays, so each subrun retries alone.

``NightTasks`` joins a ``NightPlan`` with the lstosa command lines (``lstchain_argv``), the
resources of the onsite config and the job mode: in simulate mode every command is wrapped in
``lstflow.jobs.simulate`` (prints it, creates nothing); otherwise it is wrapped in
``lstflow.jobs.provenance record``, which runs it and writes the task's provenance fragment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lstflow.onsite import lstchain_argv
from lstflow.onsite.files import NightFiles
from lstflow.onsite.paths import (
    datacheck_file_name,
    dl1_file_name,
    dl2_file_name,
    interleaved_file_name,
    muons_file_name,
    night_tag,
    r0_file_name,
)
from lstflow.onsite.plan import NightPlan
from lstflow.onsite.rfmodels import RFModelChoice, choose_rf_model
from lstflow.onsite.settings import OnsiteSettings
from lstflow.onsite.tailcuts import (
    TailcutChoice,
    finder_config_file,
    finder_log_file,
    tailcut_choice,
)
from lstflow.workitems import ArraySpec, Resources, WorkItem

SIMULATE_MODULE = "lstflow.jobs.simulate"
PROVENANCE_MODULE = "lstflow.jobs.provenance"
NIGHT_CLOSE_MODULE = "lstflow.jobs.night_close"


@dataclass(frozen=True)
class JobMode:
    """How jobs run: ``python`` is the job environment's interpreter with lstflow importable."""

    simulate: bool = False
    python: str = "python"


def item_key(step: str, run_id: int | None = None, subrun: int | None = None) -> str:
    """``r0_to_dl1.01807.0003``: unique in a night, also the simulate fail-once marker name."""
    parts = [step]
    if run_id is not None:
        parts.append(f"{run_id:05d}")
    if subrun is not None:
        parts.append(f"{subrun:04d}")
    return ".".join(parts)


class NightTasks:
    """Work items of every step of one planned night; ``files`` (the one the night was planned
    with) answers what the steps read later: calibration outputs, tail-cut results, RF models."""

    def __init__(
        self,
        settings: OnsiteSettings,
        plan: NightPlan,
        files: NightFiles,
        mode: JobMode = JobMode(),
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.paths = plan.paths
        self.files = files
        self.mode = mode

    # -- wrapping -------------------------------------------------------------------------------

    def _simulated(
        self,
        key: str,
        argv: lstchain_argv.Argv,
        inputs: tuple[Path, ...] = (),
        outputs: tuple[Path, ...] = (),
        fragment: bool = True,
    ) -> tuple[str, ...]:
        """``argv`` run by the simulator: printed, not executed (see ``lstflow.jobs.simulate``);
        it writes a simulated provenance fragment unless ``fragment`` is False."""
        fail_once = str(self.paths.fail_once_dir)
        simulator = (self.mode.python, "-m", SIMULATE_MODULE, "--key", key)
        files = (
            "--fragment",
            str(self.paths.provenance_dir(simulate=True) / f"{key}.json"),
            *(f"--input={p}" for p in inputs),
            *(f"--output={p}" for p in outputs),
        )
        return (*simulator, "--fail-once-dir", fail_once, *(files if fragment else ()), "--", *argv)

    def _item(
        self,
        key: str,
        argv: lstchain_argv.Argv,
        resources: Resources,
        description: str,
        inputs: tuple[Path, ...] = (),
        outputs: tuple[Path, ...] = (),
    ) -> WorkItem:
        if self.mode.simulate:
            wrapped = self._simulated(key, argv, inputs, outputs)
        else:
            fragment = self.paths.provenance_dir() / f"{key}.json"
            wrapped = (
                self.mode.python,
                "-m",
                PROVENANCE_MODULE,
                "record",
                "--activity",
                key,
                "--fragment",
                str(fragment),
                *(f"--input={p}" for p in inputs),
                *(f"--output={p}" for p in outputs),
                "--",
                *argv,
            )
        return WorkItem(
            key=key,
            argv=wrapped,
            resources=resources,
            outputs=tuple(str(p) for p in outputs),
            description=description,
        )

    def _job_side(
        self,
        key: str,
        argv: lstchain_argv.Argv,
        description: str,
        outputs: tuple[Path, ...],
        simulated: bool = True,
    ) -> WorkItem:
        """Night-level lstflow job-side steps: never wrapped in provenance recording; in simulate
        mode wrapped in the simulator unless ``simulated`` is False (the step runs for real)."""
        full = (self.mode.python, "-m", *argv)
        if self.mode.simulate and simulated:
            full = self._simulated(key, full, fragment=False)
        return WorkItem(
            key=key,
            argv=full,
            resources=self.settings.resources.night,
            outputs=tuple(str(p) for p in outputs),
            description=description,
        )

    def array_spec(
        self,
        step: str,
        items: tuple[WorkItem, ...],
        run_id: int | None = None,
        env: tuple[tuple[str, str], ...] = (),
    ) -> ArraySpec:
        """Job name ``lst1_<night>_<prod>_<step>[_<run>]`` so sacct rows are attributable."""
        name = f"lst1_{night_tag(self.plan.night)}_{self.plan.version.prod_id}_{step}"
        return ArraySpec(
            name=name if run_id is None else f"{name}_{run_id:05d}",
            items=items,
            log_dir=str(self.paths.log_dir),
            workdir=str(self.paths.running_dir),
            prologue=self.plan.version.environment,
            env=(("MPLBACKEND", "Agg"), *env),
        )

    def skip_reason(self, step: str) -> str | None:
        """Why a step of this night has nothing to do (the input state or the version's switches
        make it unneeded, or its output is reused), else None."""
        plan, state = self.plan, self.plan.input_state
        if step == "gain_selection" and not plan.needs_gain_selection:
            return f"input_state {state}: the R0 files in {self.paths.r0_dir} are gain-selected"
        if step in ("drs4_baseline", "charge_calibration"):
            if not plan.needs_calibration:
                return f"input_state {state}: the R0 data are Cat-A calibrated already"
            calib = plan.calibration_files
            existing = calib.drs4_pedestal if step == "drs4_baseline" else calib.charge
            if self.files.exists(existing):
                return f"{existing} exists: calibration files are reused, never rewritten"
        if step == "catB_calibration" and not plan.version.apply_catB_calibration:
            return "apply_catB_calibration is false: DL1ab runs without Cat-B calibration"
        return None

    # -- gain selection -------------------------------------------------------------------------

    def gain_selection(self) -> tuple[WorkItem, ...]:
        """One element per raw subrun of the night: ``lstchain_r0_to_r0g`` for DATA subruns with
        their 4 streams, a plain copy into R0G for every other subrun (as lstosa)."""
        if self.skip_reason("gain_selection"):
            return ()
        paths, items = self.paths, []
        heuristic = self.plan.version.use_ff_heuristic_gain_selection
        for raw in self.plan.raw_subruns:
            stream_files = tuple(
                paths.raw_r0_dir / r0_file_name(raw.run_id, raw.subrun, stream)
                for stream in raw.streams
            )
            outputs = tuple(paths.r0_dir / f.name for f in stream_files)
            key = item_key("gain_selection", raw.run_id, raw.subrun)
            if raw.gain_selected:
                log = paths.gain_selection_log_dir / (
                    f"r0_to_r0g_{raw.run_id:05d}.{raw.subrun:04d}.log"
                )
                argv = lstchain_argv.gain_selection(stream_files[0], paths.r0_dir, log, heuristic)
                what = "gain selection"
                outputs = (*outputs, log)  # its directory is made before the job runs
            else:
                argv = lstchain_argv.copy_r0(stream_files, paths.r0_dir)
                what = f"copy ({raw.run_type}, streams {list(raw.streams)})"
            items.append(
                self._item(
                    key,
                    argv,
                    self.settings.resources.gain_selection,
                    f"{what} run {raw.run_id} subrun {raw.subrun}",
                    inputs=stream_files,
                    outputs=outputs,
                )
            )
        return tuple(items)

    # -- calibration ----------------------------------------------------------------------------

    def drs4_baseline(self) -> tuple[WorkItem, ...]:
        """Empty when the DRS4 file exists: calibration files are reused, never rewritten."""
        files, plan = self.plan.calibration_files, self.plan
        if self.skip_reason("drs4_baseline"):
            return ()
        argv = lstchain_argv.drs4_baseline(
            plan.drs4.run_id, self.paths.base, self.paths.r0_root, plan.version.calibration_version
        )
        return (
            self._item(
                item_key("drs4_baseline", plan.drs4.run_id),
                argv,
                self.settings.resources.calibration,
                f"DRS4 baseline from run {plan.drs4.run_id}",
                outputs=(files.drs4_pedestal,),
            ),
        )

    def charge_calibration(self) -> tuple[WorkItem, ...]:
        files, plan = self.plan.calibration_files, self.plan
        if self.skip_reason("charge_calibration"):
            return ()
        argv = lstchain_argv.charge_calibration(
            plan.drs4.run_id,
            plan.pedcal.run_id,
            self.paths.base,
            self.paths.r0_root,
            plan.version.calibration_version,
            self.settings.calibration_filters,
        )
        return (
            self._item(
                item_key("charge_calibration", plan.pedcal.run_id),
                argv,
                self.settings.resources.calibration,
                f"charge calibration from run {plan.pedcal.run_id}",
                inputs=(files.drs4_pedestal,),
                outputs=(files.charge,),
            ),
        )

    # -- per subrun (job arrays) ----------------------------------------------------------------

    def r0_to_dl1(self, run_id: int) -> tuple[WorkItem, ...]:
        run, paths = self.plan.data_run(run_id), self.paths
        calib = self.plan.calibration_files
        applied = calib if self.plan.needs_calibration else None
        calib_inputs = (
            (calib.drs4_pedestal, calib.charge, calib.time, calib.systematics) if applied else ()
        )
        items = []
        for subrun in run.subruns:
            r0 = paths.r0_dir / r0_file_name(run_id, subrun)
            ped_ids = (
                paths.pedestal_ids_dir / f"pedestal_ids_Run{run_id:05d}.{subrun:04d}.h5"
                if subrun in run.pedestal_ids_subruns
                else None
            )
            argv = lstchain_argv.r0_to_dl1(
                r0,
                paths.dl1_dir,
                self.plan.version.dl1a_config,
                paths.drive_log,
                paths.run_summary,
                applied,
                ped_ids,
            )
            items.append(
                self._item(
                    item_key("r0_to_dl1", run_id, subrun),
                    argv,
                    self.settings.resources.subrun,
                    f"R0→DL1a run {run_id} subrun {subrun}",
                    inputs=(r0, *calib_inputs),
                    outputs=(
                        paths.dl1_dir / dl1_file_name(run_id, subrun),
                        paths.dl1_dir / muons_file_name(run_id, subrun),
                        paths.interleaved_dir / interleaved_file_name(run_id, subrun),
                    ),
                )
            )
        return tuple(items)

    def catB_calibration_file(self, run_id: int) -> Path | None:
        """The run's Cat-B file, None when the version does not apply Cat-B calibration."""
        if self.skip_reason("catB_calibration"):
            return None
        version = self.plan.version.calibration_version
        return self.paths.catB_calibration_file(version, self.settings.calibration_filters, run_id)

    def dl1ab(self, run_id: int, tailcut: TailcutChoice) -> tuple[WorkItem, ...]:
        run, paths = self.plan.data_run(run_id), self.paths
        catB = self.catB_calibration_file(run_id)
        items = []
        for subrun in run.subruns:
            dl1a = paths.dl1_dir / dl1_file_name(run_id, subrun)
            dl1b = paths.dl1b_dir(tailcut.name) / dl1_file_name(run_id, subrun)
            argv = lstchain_argv.dl1ab(
                dl1a, dl1b, tailcut.config_file, self.plan.version.store_image_dl1ab, catB
            )
            items.append(
                self._item(
                    item_key("dl1ab", run_id, subrun),
                    argv,
                    self.settings.resources.subrun,
                    f"DL1a→DL1b ({tailcut.name}) run {run_id} subrun {subrun}",
                    inputs=(dl1a, tailcut.config_file, *(() if catB is None else (catB,))),
                    outputs=(dl1b,),
                )
            )
        return tuple(items)

    def datacheck_subruns(self, run_id: int, tailcut: TailcutChoice) -> tuple[WorkItem, ...]:
        run, paths = self.plan.data_run(run_id), self.paths
        out_dir = paths.subrun_datacheck_dir(tailcut.name)
        items = []
        for subrun in run.subruns:
            dl1b = paths.dl1b_dir(tailcut.name) / dl1_file_name(run_id, subrun)
            argv = lstchain_argv.check_dl1_subrun(dl1b, out_dir, paths.dl1_dir)
            items.append(
                self._item(
                    item_key("datacheck_subrun", run_id, subrun),
                    argv,
                    self.settings.resources.subrun,
                    f"DL1 datacheck run {run_id} subrun {subrun}",
                    inputs=(dl1b,),
                    outputs=(out_dir / datacheck_file_name(run_id, subrun),),
                )
            )
        return tuple(items)

    # -- per run --------------------------------------------------------------------------------

    def tailcut_finder(self, run_id: int) -> WorkItem:
        self.plan.data_run(run_id)
        paths = self.paths
        argv = lstchain_argv.find_tailcuts(paths.dl1_dir, run_id, paths.tailcuts_dir)
        return self._item(
            item_key("tailcut_finder", run_id),
            argv,
            self.settings.resources.run,
            f"tail-cut and NSB finder run {run_id}",
            outputs=(finder_config_file(paths, run_id), finder_log_file(paths, run_id)),
        )

    def catB_calibration(self, run_id: int) -> tuple[WorkItem, ...]:
        """Cat-B calibration of a run from its interleaved files; empty when not applied."""
        run, paths, plan = self.plan.data_run(run_id), self.paths, self.plan
        output = self.catB_calibration_file(run_id)
        if output is None:
            return ()
        argv = lstchain_argv.catB_calibration(
            run_id,
            paths.base,
            paths.r0_root,
            self.settings.calibration_filters,
            plan.calibration_files,
            plan.pedcal.run_id,
            paths.dl1_dir,
        )
        interleaved = (
            paths.interleaved_dir / interleaved_file_name(run_id, s) for s in run.subruns
        )
        return (
            self._item(
                item_key("catB_calibration", run_id),
                argv,
                self.settings.resources.run,
                f"Cat-B calibration run {run_id}",
                inputs=(*interleaved, plan.calibration_files.charge),
                outputs=(output,),
            ),
        )

    def tailcut(self, run_id: int) -> TailcutChoice:
        """The finder's result (after ``tailcut_finder`` ran); a stand-in in simulate mode."""
        self.plan.data_run(run_id)
        return tailcut_choice(self.files, self.paths, run_id, self.mode.simulate)

    def rf_model(self, run_id: int, tailcut: TailcutChoice) -> RFModelChoice:
        version = self.plan.version
        return choose_rf_model(
            self.files,
            Path(version.rf_models_dir),
            version.mc_prod,
            tailcut.nsb,
            tailcut.picture,
            self.plan.data_run(run_id).source.dec,
            run_id,
        )

    def merged_dl1_file(self, run_id: int, tailcut: TailcutChoice) -> Path:
        return self.paths.dl1b_dir(tailcut.name) / dl1_file_name(run_id)

    def merge_dl1(self, run_id: int, tailcut: TailcutChoice) -> WorkItem:
        run, merged = self.plan.data_run(run_id), self.merged_dl1_file(run_id, tailcut)
        dl1b_dir = self.paths.dl1b_dir(tailcut.name)
        argv = lstchain_argv.merge_dl1(dl1b_dir, merged, run_id)
        return self._item(
            item_key("merge_dl1", run_id),
            argv,
            self.settings.resources.run,
            f"merge DL1b of run {run_id}",
            inputs=tuple(dl1b_dir / dl1_file_name(run_id, s) for s in run.subruns),
            outputs=(merged,),
        )

    def merge_muons(self, run_id: int) -> WorkItem:
        run, paths = self.plan.data_run(run_id), self.paths
        merged = paths.merged_muons_dir / muons_file_name(run_id)
        argv = lstchain_argv.merge_muons(paths.dl1_dir, merged, run_id)
        return self._item(
            item_key("merge_muons", run_id),
            argv,
            self.settings.resources.run,
            f"merge muons of run {run_id}",
            inputs=tuple(paths.dl1_dir / muons_file_name(run_id, s) for s in run.subruns),
            outputs=(merged,),
        )

    def dl1_to_dl2(self, run_id: int, tailcut: TailcutChoice, rf_model: RFModelChoice) -> WorkItem:
        merged = self.merged_dl1_file(run_id, tailcut)
        out_dir = self.paths.dl2_run_dir(tailcut.name, rf_model.nsb_dir)
        argv = lstchain_argv.dl1_to_dl2(
            merged, out_dir, rf_model.path, self.plan.version.dl2_config
        )
        return self._item(
            item_key("dl1_to_dl2", run_id),
            argv,
            self.settings.resources.dl2,
            f"DL1→DL2 run {run_id} with {rf_model.path.parent.name}/{rf_model.path.name}",
            inputs=(merged,),
            outputs=(out_dir / dl2_file_name(run_id),),
        )

    def datacheck_run(self, run_id: int, tailcut: TailcutChoice) -> WorkItem:
        self.plan.data_run(run_id)
        paths = self.paths
        pattern = str(
            paths.subrun_datacheck_dir(tailcut.name) / f"datacheck_dl1_LST-1.Run{run_id:05d}.*.h5"
        )
        argv = lstchain_argv.check_dl1_run(pattern, paths.datacheck_dir, paths.dl1_dir)
        return self._item(
            item_key("datacheck_run", run_id),
            argv,
            self.settings.resources.run,
            f"run datacheck run {run_id}",
            outputs=(paths.datacheck_dir / datacheck_file_name(run_id),),
        )

    # -- per night ------------------------------------------------------------------------------

    def longterm_datacheck(self) -> WorkItem:
        paths = self.paths
        argv = lstchain_argv.longterm_dl1_check(
            paths.datacheck_dir, paths.longterm_file, paths.merged_muons_dir
        )
        return self._item(
            item_key("longterm_datacheck"),
            argv,
            self.settings.resources.night,
            f"long-term DL1 datacheck of night {self.plan.night}",
            inputs=tuple(
                paths.datacheck_dir / datacheck_file_name(r.run_id) for r in self.plan.data_runs
            ),
            outputs=(paths.longterm_file,),
        )

    def cherenkov_transparency(self) -> WorkItem:
        paths = self.paths
        argv = lstchain_argv.cherenkov_transparency(paths.longterm_file, paths.datacheck_dir)
        return self._item(
            item_key("cherenkov_transparency"),
            argv,
            self.settings.resources.night,
            f"Cherenkov transparency of night {self.plan.night}",
            inputs=(paths.longterm_file,),
            outputs=(paths.longterm_file,),
        )

    @property
    def night_provenance_file(self) -> Path:
        """The night's PROV-JSON (a simulated night's lies beside its simulated fragments)."""
        prov_dir = self.paths.provenance_dir(self.mode.simulate)
        return prov_dir / f"provenance_{night_tag(self.plan.night)}.json"

    def run_provenance_files(self) -> tuple[Path, ...]:
        """One PROV-JSON per DATA run: the calibration and that run's steps (lstosa's name)."""
        prov_dir = self.paths.provenance_dir(self.mode.simulate)
        return tuple(
            prov_dir / f"calibration_to_dl2_{r.run_id:05d}_prov.json" for r in self.plan.data_runs
        )

    def provenance_merge(self) -> WorkItem:
        """Merges the fragments into W3C PROV-JSON. It runs for real in simulate mode too, on
        the simulated fragments, so a simulated night's provenance names every step it ran."""
        prov_dir = self.paths.provenance_dir(self.mode.simulate)
        argv = (
            PROVENANCE_MODULE,
            "merge",
            "--fragments-dir",
            str(prov_dir),
            "--output",
            str(self.night_provenance_file),
            *(
                f"--run-document={run.run_id}={path}"
                for run, path in zip(self.plan.data_runs, self.run_provenance_files(), strict=True)
            ),
        )
        return self._job_side(
            item_key("provenance_merge"),
            argv,
            f"merge provenance fragments of night {self.plan.night} into PROV-JSON",
            (self.night_provenance_file, *self.run_provenance_files()),
            simulated=False,
        )

    def night_close(self) -> WorkItem:
        """Write the night-closed marker once the night's products exist.

        In simulate mode nothing is produced, so the close runs for real with no requirement and
        writes ``NightFinished.simulate.txt`` instead: a simulated night visibly closes without
        ever faking the real marker of that night and version.
        """
        plan, paths = self.plan, self.paths
        required: tuple[Path, ...] = ()
        if self.mode.simulate:
            marker = paths.simulated_night_closed_marker
        else:
            marker = paths.night_closed_marker
            required = (paths.longterm_file, self.night_provenance_file)
        argv = (
            NIGHT_CLOSE_MODULE,
            "--night",
            plan.night.isoformat(),
            "--prod-id",
            plan.version.prod_id,
            "--marker",
            str(marker),
            *(arg for path in required for arg in ("--require", str(path))),
        )
        return self._job_side(
            item_key("night_close"),
            argv,
            f"close night {plan.night}",
            (marker,),
            simulated=False,
        )
