"""The browser tier: the demo productions, a real ``airflow api-server`` with the lstflow plugin,
and headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium).
"""

from __future__ import annotations

import configparser
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import ARTIFACTS, ApiServer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from lstflow.commands.init import ADMIN_USER, ensure_admin_password
from lstflow_dev import demo

CHECKOUT = Path(__file__).resolve().parents[2]
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
STARTUP_SECONDS = 180


@pytest.fixture(scope="session")
def demo_data_root(demo_data: Path) -> Path:
    """The data root of the demo productions, run once per session (tests/conftest.py)."""
    return demo_data.parent


def _api_port(airflow_home: Path) -> int:
    config = configparser.ConfigParser(interpolation=None)
    config.read(airflow_home / "airflow.cfg")
    return config.getint("api", "port")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"airflow api-server not healthy after {STARTUP_SECONDS} s; see {log}")


@pytest.fixture(scope="session")
def api_server(airflow_db: Path, demo_data_root: Path) -> Iterator[ApiServer]:
    """``airflow api-server`` on the tests' AIRFLOW_HOME and port, stopped by its PID."""
    port = _api_port(airflow_db)
    if not _port_is_free(port):
        raise RuntimeError(f"port {port} (tests' airflow.cfg [api] port) is already in use")
    password = ensure_admin_password(airflow_db)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "api-server.log"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        **demo.demo_environment(demo_data_root),
        "AIRFLOW_HOME": str(airflow_db),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(CHECKOUT / "plugins"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(Path(bin_dir) / "airflow"), "api-server", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield ApiServer(url, password)
    finally:
        os.killpg(process.pid, 15)  # the server and its workers: our own process group
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="lstflow-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1400,1800")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def logged_in(browser: webdriver.Chrome, api_server: ApiServer) -> webdriver.Chrome:
    """The browser after signing in through Airflow's own login page."""
    browser.get(f"{api_server.url}/auth/login")
    wait = WebDriverWait(browser, 60)
    wait.until(expected_conditions.presence_of_element_located((By.NAME, "username")))
    browser.find_element(By.NAME, "username").send_keys(ADMIN_USER)
    browser.find_element(By.NAME, "password").send_keys(api_server.password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda driver: driver.get_cookie("_token") is not None)
    return browser
