"""The lstflow pages in a real api-server, seen by headless Chromium after the demo run.

Screenshots go to ``.lstflow/test-artifacts/``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from browser_helpers import ApiServer, screenshot
from running_run import running_run
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from support import postgres

from lstflow.productions.naming import dag_id_for
from lstflow.productions.production_dag import LOGICAL_DATE_NOTE, STAGE_LABELS
from lstflow.ui.app import create_app
from lstflow.ui.nights import NIGHTLY_DAG_ID, night_statuses
from lstflow.ui.plugin import URL_PREFIX
from lstflow_dev import demo

# The demo productions (a session fixture) run once, on the worker that runs their readers.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("demo")]

ANALYSIS = "lstflow_demo_analysis"
#: Its stages in run order (plot_rf_feat, implicit, runs with train_pipe).
ANALYSIS_STAGES = (
    "train_test_split",
    "merge_dl1",
    "train_pipe",
    "plot_rf_feat",
    "dl1_to_dl2",
    "dl2_to_irfs",
    "dl2_to_sensitivity",
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _status(url: str, headers: dict[str, str]) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.headers.get("location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("location", "")


def _concrete(path: str) -> str:
    values = {
        "prod_id": ANALYSIS,
        "name": "sensitivity-0",
        "dag_id": dag_id_for(ANALYSIS),
        "run_id": "manual__x",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_plugin_endpoint_refuses_requests_without_a_valid_token(
    api_server: ApiServer,
) -> None:
    paths = sorted(
        {
            _concrete(route.path)
            for route in create_app().routes
            if "GET" in (getattr(route, "methods", None) or ())
        }
    )
    assert "/productions" in paths and "/nights" in paths
    for path in paths:
        url = f"{api_server.url}{URL_PREFIX}{path}?run_id=x"
        assert _status(url, {})[0] == 401, path
        assert _status(url, {"Authorization": "Bearer not-a-jwt"})[0] == 403, path
        assert _status(url, {"Cookie": "_token=forged.jwt.value"})[0] == 403, path
        code, location = _status(url, {"Accept": "text/html"})
        assert code == 303 and "/auth/login?next=" in location, path


def test_productions_page_lists_the_library_with_latest_run_states(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    logged_in.get(f"{api_server.url}{URL_PREFIX}/productions")
    rows = {
        row.get_attribute("data-prod-id"): row.text
        for row in logged_in.find_elements(By.CSS_SELECTOR, "tr.production")
    }
    screenshot(logged_in, "productions")
    assert set(demo.PRODUCTIONS) <= set(rows)
    for prod_id in demo.PRODUCTIONS:
        assert "success" in rows[prod_id]
    assert "train_pipe (1)" in rows[ANALYSIS]
    assert "dl2_to_sensitivity (1)" in rows[ANALYSIS]


def test_production_page_after_the_demo_shows_full_progress_plots_and_provenance(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    logged_in.get(f"{api_server.url}{URL_PREFIX}/productions/{ANALYSIS}")
    stages = logged_in.find_elements(By.CSS_SELECTOR, "tr.stage")
    assert [s.get_attribute("data-stage") for s in stages] == list(ANALYSIS_STAGES)
    assert {s.get_attribute("data-percent-done") for s in stages} == {"100.0"}
    images = logged_in.find_elements(By.CSS_SELECTOR, ".plots img")
    assert {i.get_attribute("data-plot") for i in images} == {
        "rf-importance-0",
        "sensitivity-0",
        "irfs-0",
    }
    WebDriverWait(logged_in, 60).until(
        lambda driver: all(
            driver.execute_script("return arguments[0].complete", image) for image in images
        )
    )
    for image in images:
        assert logged_in.execute_script("return arguments[0].naturalWidth", image) > 100
    histograms = logged_in.find_elements(By.CSS_SELECTOR, ".histograms svg rect")
    assert histograms, "sacct runtime/memory histograms are drawn"
    software = logged_in.find_element(By.ID, "software").text
    assert "lstchain" in software and "0.12.3" in software
    configs = logged_in.find_element(By.ID, "configs").text
    assert re.search(r"production .*lstmcpipe_config_demo_analysis\.yaml [0-9a-f]{16}", configs)
    assert re.search(r"lstchain .*lstchain_config_training\.json [0-9a-f]{16}", configs)
    screenshot(logged_in, "production_detail")


def test_demo_dl1_page_shows_each_lineage_done(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    """The DL1 demo has two chains (gamma, proton): one lineage row each, every stage done,
    counted from the specs and plans its stage tasks stored."""
    logged_in.get(f"{api_server.url}{URL_PREFIX}/productions/lstflow_demo_dl1")
    rows = logged_in.find_elements(By.CSS_SELECTOR, "#lineages tr.lineage")
    assert [row.get_attribute("data-lineage") for row in rows] == [
        "dl1_gamma_merged",
        "dl1_proton_merged",
    ]
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "td[data-stage]")
        assert {c.get_attribute("data-stage"): c.text for c in cells} == {
            "r0_to_dl1": "1/1",
            "merge_dl1": "1/1",
        }


def _click_link(driver: webdriver.Chrome, text: str) -> None:
    """Click the link showing ``text`` once Airflow's React UI has rendered it; a link it
    re-renders between finding and clicking is stale, and the wait simply looks again."""

    def clicked(d: webdriver.Chrome) -> bool:
        for link in d.find_elements(By.CSS_SELECTOR, "a"):
            if link.text == text:
                link.click()
                return True
        return False

    WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,)).until(clicked)


def _open_iframe_page(driver: webdriver.Chrome) -> None:
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: d.find_elements(By.TAG_NAME, "iframe"))
    driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    wait.until(lambda d: d.find_elements(By.TAG_NAME, "h1"))


def test_airflow_nav_shows_the_productions_page_inside_the_ui(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    logged_in.get(f"{api_server.url}/plugin/lstflow-productions")
    _open_iframe_page(logged_in)
    try:
        assert logged_in.find_element(By.TAG_NAME, "h1").text == "Productions"
    finally:
        logged_in.switch_to.default_content()
    screenshot(logged_in, "airflow_nav_productions")


def test_the_dag_run_tab_of_the_airflow_ui_opens_that_runs_production_page(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    logged_in.get(f"{api_server.url}{URL_PREFIX}/productions/{ANALYSIS}")
    # the link shows a readable run id; its title holds the full one
    run_id = logged_in.find_element(By.CSS_SELECTOR, "#run a").get_attribute("title")
    logged_in.get(f"{api_server.url}/dags/{dag_id_for(ANALYSIS)}/runs/{run_id}")
    _click_link(logged_in, "lstflow run")
    _open_iframe_page(logged_in)
    try:
        assert logged_in.find_element(By.TAG_NAME, "h1").text == f"Production {ANALYSIS}"
        assert logged_in.find_element(By.CSS_SELECTOR, "#run a").get_attribute("title") == run_id
    finally:
        logged_in.switch_to.default_content()
    screenshot(logged_in, "airflow_dag_run_tab")


def test_nights_page_shows_the_night_status_tables(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    logged_in.get(f"{api_server.url}{URL_PREFIX}/nights")
    assert logged_in.find_element(By.TAG_NAME, "h1").text == "Nights"
    expected = [status["night"] for _, status in night_statuses()]
    sections = logged_in.find_elements(By.CSS_SELECTOR, "section.night")
    assert [s.get_attribute("data-night") for s in sections] == expected
    for section in sections:
        header = section.find_element(By.CSS_SELECTOR, "table.night-status tr").text
        assert header.split()[:4] == ["Seq", "Parent", "Type", "Run"]
    assert bool(logged_in.find_elements(By.ID, "no-nights")) == (not expected)
    screenshot(logged_in, "nights")


def test_dag_list_shows_the_demo_productions_and_no_import_error(
    logged_in: webdriver.Chrome,
    api_server: ApiServer,
    metadata_database: tuple[postgres.PostgresServer, str],
) -> None:
    """What `make airflow` shows after `make demo`: the dag-processor built every demo
    production from airflow.cfg alone (its config_variables), with no import error."""
    wanted = {dag_id_for(prod_id) for prod_id in demo.PRODUCTIONS}
    logged_in.get(f"{api_server.url}/dags")

    def listed(driver: webdriver.Chrome) -> set[str]:
        """The DAG ids the list links to (a card shows the display name, the prod_id)."""
        links = driver.find_elements(By.CSS_SELECTOR, "a[href*='/dags/']")
        return wanted & {(link.get_attribute("href") or "").rsplit("/", 1)[-1] for link in links}

    try:
        WebDriverWait(logged_in, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: listed(driver) == wanted
        )
    finally:
        screenshot(logged_in, "dag_list")
    assert "Import Error" not in logged_in.find_element(By.TAG_NAME, "body").text
    server, database = metadata_database
    assert server.query(database, "SELECT filename, stacktrace FROM import_error") == []


def _visible_prod_ids(driver: webdriver.Chrome) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#productions tr.production")
    return [row.get_attribute("data-prod-id") for row in rows if row.is_displayed()]


def test_productions_search_and_sort(logged_in: webdriver.Chrome, api_server: ApiServer) -> None:
    logged_in.get(f"{api_server.url}{URL_PREFIX}/productions")
    every = _visible_prod_ids(logged_in)
    assert set(demo.PRODUCTIONS) <= set(every)
    search = logged_in.find_element(By.CSS_SELECTOR, "input.search[data-for='productions']")
    search.send_keys("dl1ab")
    shown = _visible_prod_ids(logged_in)
    assert "lstflow_demo_dl1ab" in shown and "lstflow_demo_analysis" not in shown
    screenshot(logged_in, "productions_search")
    search.clear()
    search.send_keys(" ")  # an input event with no words: every row again
    assert _visible_prod_ids(logged_in) == every
    header = logged_in.find_element(By.CSS_SELECTOR, "#productions th.sortable")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    demo_order = [p for p in _visible_prod_ids(logged_in) if p in demo.PRODUCTIONS]
    assert demo_order == sorted(demo.PRODUCTIONS, reverse=True)
    screenshot(logged_in, "productions_sorted")


def test_a_plot_shows_a_placeholder_then_appears_at_the_next_refresh(
    logged_in: webdriver.Chrome, api_server: ApiServer, demo_data_root: Path
) -> None:
    """A missing plot is a placeholder, not a broken image; once written, one reload shows it
    (a missing file is not cached)."""
    plot = demo_data_root / demo.PRODUCTS["sensitivity plot"]
    aside = plot.with_name(plot.name + ".aside")
    page = f"{api_server.url}{URL_PREFIX}/productions/{ANALYSIS}"
    selector = "img[data-plot='sensitivity-0']"
    plot.rename(aside)
    try:
        logged_in.get(page)
        WebDriverWait(logged_in, 30).until(
            lambda d: d.find_element(
                By.CSS_SELECTOR, "[data-missing-plot='sensitivity-0']"
            ).is_displayed()
        )
        assert not logged_in.find_element(By.CSS_SELECTOR, selector).is_displayed()
        screenshot(logged_in, "plot_placeholder")
    finally:
        aside.rename(plot)
    logged_in.get(page)
    image = WebDriverWait(logged_in, 30).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, selector)
            if d.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth",
                d.find_element(By.CSS_SELECTOR, selector),
            )
            else None
        )
    )
    assert image.is_displayed()
    assert logged_in.execute_script("return arguments[0].naturalWidth", image) > 100
    assert not logged_in.find_element(
        By.CSS_SELECTOR, "[data-missing-plot='sensitivity-0']"
    ).is_displayed()
    screenshot(logged_in, "plot_appeared")


def _width_share(driver: webdriver.Chrome, part: WebElement, whole: WebElement) -> float:
    return float(
        driver.execute_script(
            "return arguments[0].getBoundingClientRect().width"
            " / arguments[1].getBoundingClientRect().width",
            part,
            whole,
        )
    )


def _animation(driver: webdriver.Chrome, element: WebElement) -> str:
    return str(
        driver.execute_script("return getComputedStyle(arguments[0]).animationName", element)
    )


def test_a_running_stage_shows_its_share_done_and_moving_work_not_a_full_bar(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    """merge_dl1 waits on Slurm with 1 of its 5 elements done; then, in a run where it has
    planned nothing yet, its bar moves over its whole width without a percentage."""
    dag_id = dag_id_for(ANALYSIS)
    page = f"{api_server.url}{URL_PREFIX}/productions/{ANALYSIS}?run_id="
    stage = "tr.stage[data-stage='merge_dl1']"
    with running_run(dag_id, ("train_test_split",), "merge_dl1") as run:
        logged_in.get(page + quote(run.run_id))
        row = logged_in.find_element(By.CSS_SELECTOR, stage)
        share = run.done / run.elements
        assert 0 < share < 1
        assert row.get_attribute("data-percent-done") == str(round(100 * share, 1))
        bar = row.find_element(By.CSS_SELECTOR, ".bar")
        done = bar.find_element(By.CSS_SELECTOR, ".done")
        in_slurm = bar.find_element(By.CSS_SELECTOR, ".in-slurm")
        assert _width_share(logged_in, done, bar) == pytest.approx(share, abs=0.02)
        assert _width_share(logged_in, in_slurm, bar) == pytest.approx(1 - share, abs=0.02)
        assert _animation(logged_in, in_slurm) == "lstflow-busy"  # moving hatches, not done
        waiting = run.elements - run.done
        assert f"{run.done}/{run.elements} done, {waiting} queued or running in Slurm" in row.text
        screenshot(logged_in, "running_stage_progress")
    with running_run(dag_id, ("train_test_split",), "merge_dl1", planned=False) as run:
        logged_in.get(page + quote(run.run_id))
        row = logged_in.find_element(By.CSS_SELECTOR, stage)
        bar = row.find_element(By.CSS_SELECTOR, ".bar")
        assert "indeterminate" in (bar.get_attribute("class") or "")
        assert _animation(logged_in, bar) == "lstflow-busy"
        nothing_done = bar.find_element(By.CSS_SELECTOR, ".done")
        assert _width_share(logged_in, nothing_done, bar) == 0
        assert "planning" in row.text and "%" not in row.text
        screenshot(logged_in, "planning_stage_progress")


def _open_trigger_form(driver: webdriver.Chrome, api_server: ApiServer, dag_id: str) -> None:
    """Airflow's own trigger form of ``dag_id`` (its "Trigger Dag" dialog), run parameters open."""
    driver.get(f"{api_server.url}/dags/{dag_id}")
    wait = WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=dialog] [id^='element_']"))


def _backfill_disabled(driver: webdriver.Chrome) -> bool:
    """Whether the dialog's "Backfill" choice (beside "Single Run") is disabled: its radio input
    and the card around it, which Airflow greys out with a tooltip."""
    radio = driver.find_element(By.CSS_SELECTOR, "[role=dialog] input[type=radio][value=backfill]")
    card = radio.find_element(By.XPATH, "./ancestor::label[1]")
    input_disabled = bool(radio.get_property("disabled"))
    assert input_disabled == (card.get_attribute("data-disabled") is not None)
    return input_disabled


def _selected_stages(driver: webdriver.Chrome) -> list[str]:
    """What the form submits: react-select keeps one hidden input per chosen value."""
    inputs = driver.find_elements(By.CSS_SELECTOR, "input[name='element_stages']")
    return [str(i.get_attribute("value")) for i in inputs]


def _menu_options(driver: webdriver.Chrome) -> list[str]:
    """The options the open stages menu offers (the chosen ones are not offered again)."""
    menu = driver.find_elements(By.CSS_SELECTOR, "#element_stages [role=listbox]")
    return [o.text for o in menu[0].find_elements(By.CSS_SELECTOR, "[role=option]")] if menu else []


def test_the_mc_trigger_form_picks_stages_from_the_productions_own_stage_names(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    _open_trigger_form(logged_in, api_server, dag_id_for(ANALYSIS))
    try:
        picker = logged_in.find_element(By.ID, "element_stages")
        assert _selected_stages(logged_in) == list(ANALYSIS_STAGES)  # all, in run order
        label = STAGE_LABELS["dl2_to_sensitivity"]
        picker.find_element(By.CSS_SELECTOR, f"[aria-label='Remove {label}'] [role=button]").click()
        assert _selected_stages(logged_in) == list(ANALYSIS_STAGES[:-1])
        box = picker.find_element(By.CSS_SELECTOR, "input[role=combobox]")
        box.send_keys("r0_to")  # a stage this production does not run: nothing to pick
        menu = WebDriverWait(logged_in, 10).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#element_stages [role=listbox]")
        )
        assert menu.text == "No options" and not _menu_options(logged_in)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        WebDriverWait(logged_in, 10).until(lambda d: _menu_options(d) == [label])
        screenshot(logged_in, "trigger_form_stages")
        logged_in.find_element(By.CSS_SELECTOR, "#element_stages [role=option]").click()
        assert sorted(_selected_stages(logged_in)) == sorted(ANALYSIS_STAGES)
    finally:
        logged_in.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # never triggered


def test_an_mc_trigger_form_disables_backfill_and_says_the_logical_date_is_unused(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    _open_trigger_form(logged_in, api_server, dag_id_for(ANALYSIS))
    try:
        assert _backfill_disabled(logged_in)  # allowed_run_types: manual only
        config = logged_in.find_element(By.ID, "element_config")
        dialog = config.find_element(By.XPATH, "./ancestor::*[@role='dialog'][1]")
        assert "Logical Date" in dialog.text  # Airflow shows it for every unpartitioned DAG
        assert LOGICAL_DATE_NOTE in dialog.text  # visible text only, under the first field
        screenshot(logged_in, "trigger_form_mc_run_types")
    finally:
        logged_in.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # never triggered


def test_the_nightly_trigger_form_picks_the_night_with_a_date_picker(
    logged_in: webdriver.Chrome, api_server: ApiServer
) -> None:
    _open_trigger_form(logged_in, api_server, NIGHTLY_DAG_ID)
    try:
        assert not _backfill_disabled(logged_in)  # nights are backfilled (reprocessing)
        night = logged_in.find_element(By.ID, "element_night")
        assert night.get_attribute("type") == "date"  # a day, no time of day
        night.send_keys("03152026")  # Chromium's en-US date field: mm dd yyyy
        assert night.get_attribute("value") == "2026-03-15"
        field = night.find_element(By.XPATH, "./ancestor::*[@role='group'][1]")
        assert "Night" in field.text
        assert "untick 'Unpause on trigger'" in field.text  # the DAG starts paused
        screenshot(logged_in, "trigger_form_night")
    finally:
        logged_in.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # never triggered
