"""Click options made from settings dataclasses: the settings are the only source of defaults.

A command declares ``@setting(StageSettings, "field_name", "--flag", help=...)``; the
option's default, its type (from the default's type unless given) and its parameter name
come from the dataclass field, and ``--help`` shows the default. The command then builds its
settings with :func:`settings_from`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import click


class SettingOption(click.Option):
    """A click option that knows the settings field it fills (tests check its default)."""

    def __init__(self, *args, settings_class: type, settings_field: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings_class = settings_class
        self.settings_field = settings_field


def field_default(settings_class: type, name: str) -> Any:
    """The default of field ``name`` of a settings dataclass (MISSING if it has none)."""
    field = {f.name: f for f in dataclasses.fields(settings_class)}[name]
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
    return click.option(*flags, name, cls=SettingOption, settings_class=settings_class,
                        settings_field=name, help=help, **kwargs)


def settings_from(settings_class: type, params: dict, **overrides) -> Any:
    """An instance of ``settings_class`` from a command's parameters (those that are fields)."""
    names = {f.name for f in dataclasses.fields(settings_class)}
    values = {k: v for k, v in params.items() if k in names}
    return settings_class(**(values | overrides))
