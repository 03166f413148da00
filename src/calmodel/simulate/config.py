"""Simulation settings: defaults, presets and user YAML merged into typed records."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from calmodel import CalmodelError
from calmodel.simulate.corruptions import CorruptionSettings

PRESETS = resources.files("calmodel.simulate") / "presets"


def preset_names() -> list[str]:
    names = [p.name[:-5] for p in PRESETS.iterdir() if p.name.endswith(".yaml")]
    return sorted(n for n in names if n != "defaults")


def load_yaml_mapping(text: str, origin: str) -> dict:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise CalmodelError(f"{origin}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise CalmodelError(f"{origin}: expected a mapping at the top level")
    return data


def _preset_dict(name: str) -> dict:
    if name != "defaults" and name not in preset_names():
        raise CalmodelError(f"unknown preset '{name}'; choose one of: {', '.join(preset_names())}")
    text = PRESETS.joinpath(f"{name}.yaml").read_text()
    return load_yaml_mapping(text, f"preset {name}")


def merge_settings(base: dict, override: dict, where: str = "") -> dict:
    """Deep-merge ``override`` into a copy of ``base``; unknown keys are errors (typos)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise CalmodelError(f"unknown setting '{where}{key}' (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = merge_settings(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def load_settings(preset: str | None = None, config: Path | None = None) -> dict:
    """Defaults <- preset <- user config. A user config may name its own ``base`` preset."""
    settings = _preset_dict("defaults") | {"description": "", "preset": "custom"}
    user: dict = {}
    if config is not None:
        config = Path(config)
        if not config.is_file():
            raise CalmodelError(f"simulation config '{config}' does not exist")
        user = load_yaml_mapping(config.read_text(), str(config))
        preset = user.pop("base", preset)
    if preset is not None:
        settings = merge_settings(settings, _preset_dict(preset))
        settings["preset"] = preset
    if user:
        settings = merge_settings(settings, user)
        settings["preset"] = f"{preset}+{config.name}" if preset else config.name
    return settings


@dataclass(frozen=True)
class ObservationSettings:
    array_config: str
    date: str
    integration_s: float
    spw_centres_ghz: list
    spw_width_mhz: float
    channels_per_spw: int
    flux_scan_s: float
    gain_scan_s: float
    target_scan_s: float
    integrations_per_field: int
    cycles: int
    gap_s: float
    elevation_limit_deg: float


def corruption_settings(settings: dict) -> CorruptionSettings:
    return CorruptionSettings(**settings["corruption"])


def observation_settings(settings: dict) -> ObservationSettings:
    obs = ObservationSettings(**settings["observation"])
    if obs.integration_s <= 0 or obs.channels_per_spw < 1 or not obs.spw_centres_ghz:
        raise CalmodelError("observation: integration_s must be > 0, channels_per_spw >= 1, "
                            "and spw_centres_ghz non-empty")
    if obs.integrations_per_field < 0:
        raise CalmodelError("observation.integrations_per_field must be >= 0 (0: pointed targets)")
    for name in ("flux_scan_s", "gain_scan_s", "target_scan_s"):
        if getattr(obs, name) < obs.integration_s:
            raise CalmodelError(f"observation.{name} must be at least one integration")
    return obs
