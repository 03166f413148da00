"""Click options made from settings dataclasses: the settings are the only source of defaults.

A command declares ``@setting(StageSettings, "field_name", "--flag", help=...)``; the
option's default, its type (from the default's type unless given) and its parameter name
come from the dataclass field, and ``--help`` shows the default. The command then builds its
settings with :func:`settings_from`.

Every float option is a :class:`FiniteFloat`: NaN and infinities are refused (a NaN
threshold compares False with everything and silently turns a test off). Bounds are
declared beside the setting, in the settings dataclass, with :func:`bounded`; int
options take the same bounds (click.IntRange).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import click


BOUNDS = "calmodel_bounds"  # dataclass field metadata key: (low, high, low_open)


def bounded(default: Any, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> Any:
    """A settings field with ``default`` whose option refuses values outside [low, high]
    (``low_open``: the value must be strictly above ``low``)."""
    return dataclasses.field(default=default, metadata={BOUNDS: (low, high, low_open)})


class FiniteFloat(click.ParamType):
    """A float that is finite and within optional bounds (ints: see :class:`BoundedInt`)."""

    name = "float"

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False):
        self.low, self.high, self.low_open = low, high, low_open

    def number(self, value, param, ctx) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def convert(self, value, param, ctx):
        number = self.number(value, param, ctx)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            self.fail(f"{number:g} must be {'>' if self.low_open else '>='} {self.low:g}", param, ctx)
        if self.high is not None and number > self.high:
            self.fail(f"{number:g} must be <= {self.high:g}", param, ctx)
        return number


class BoundedInt(FiniteFloat):
    """An integer within bounds (click.IntRange would change how --help shows the default)."""

    name = "integer"

    def number(self, value, param, ctx) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not an integer", param, ctx)


def _typed(kind: Any, bounds: tuple) -> Any:
    """The click type for a setting: floats finite and bounded, ints bounded."""
    low, high, low_open = bounds
    if kind is float:
        return FiniteFloat(low, high, low_open)
    if kind is int and (low is not None or high is not None):
        return BoundedInt(low, high, low_open)
    return kind


class SettingOption(click.Option):
    """A click option that knows the settings field it fills (tests check its default)."""

    def __init__(self, *args, settings_class: type, settings_field: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings_class = settings_class
        self.settings_field = settings_field


def _field(settings_class: type, name: str) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(settings_class)}[name]


def field_default(settings_class: type, name: str) -> Any:
    """The default of field ``name`` of a settings dataclass (MISSING if it has none)."""
    field = _field(settings_class, name)
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def setting(settings_class: type, name: str, *flags: str, help: str, **kwargs) -> Callable:
    """A click option for field ``name`` of ``settings_class`` (flags default to --name-with-dashes)."""
    default = field_default(settings_class, name)
    flags = flags or (f"--{name.replace('_', '-')}",)
    if default is dataclasses.MISSING:
        kwargs.setdefault("required", True)
    else:
        kwargs["default"] = default
        kwargs.setdefault("show_default", default not in (None, False, ""))
        if isinstance(default, bool):
            kwargs.setdefault("is_flag", True)
        elif isinstance(default, tuple) and default:
            kwargs.setdefault("nargs", len(default))
            kwargs.setdefault("type", type(default[0]))
        elif default is not None and "type" not in kwargs:
            kwargs["type"] = type(default)
    if "type" in kwargs:
        bounds = _field(settings_class, name).metadata.get(BOUNDS, (None, None, False))
        kwargs["type"] = _typed(kwargs["type"], bounds)
    return click.option(*flags, name, cls=SettingOption, settings_class=settings_class,
                        settings_field=name, help=help, **kwargs)


def settings_from(settings_class: type, params: dict, **overrides) -> Any:
    """An instance of ``settings_class`` from a command's parameters (those that are fields)."""
    names = {f.name for f in dataclasses.fields(settings_class)}
    values = {k: v for k, v in params.items() if k in names}
    return settings_class(**(values | overrides))
