"""What the browser tests share besides fixtures: the server handle and screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver

ARTIFACTS = Path(__file__).resolve().parents[2] / ".lstflow" / "test-artifacts"
MAX_HEIGHT = 8000


@dataclass(frozen=True)
class ApiServer:
    url: str
    password: str


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole page as ``.lstflow/test-artifacts/<name>.png`` (kept after the run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 800), MAX_HEIGHT))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
