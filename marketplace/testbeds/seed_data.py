"""Where the region's reference data for test environments lives."""
from pathlib import Path

ENVIRONMENTS_PATH = Path(__file__).with_name("environments.json")
