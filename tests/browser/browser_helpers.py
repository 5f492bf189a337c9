"""What the browser tests share besides fixtures: the server handle and screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver

ARTIFACTS = Path(__file__).resolve().parents[2] / ".lstflow" / "test-artifacts"


@dataclass(frozen=True)
class ApiServer:
    url: str
    password: str


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the page as ``.lstflow/test-artifacts/<name>.png`` (kept after the run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
