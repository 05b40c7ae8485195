"""Typed configs as command lines: types, bounds, defaults in --help, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from baselines.common.cli import UserError, build_parser, option, parse_config, run_cli


@dataclass(frozen=True)
class Demo:
    env: str = option(help="env ID", required=True)
    steps: int = option(100, help="env steps", minimum=1)
    lr: float = option(1e-3, help="learning rate", positive=True)
    arch: tuple[int, ...] = option((64, 64), help="hidden sizes")
    mode: Literal["a", "b"] = option("a", help="mode")
    out: Path | None = option(None, help="folder")
    video: bool = option(True, help="write a video")
    resume: bool = option(False, help="continue")

    def __post_init__(self) -> None:
        if self.env == "bad":
            raise ValueError("--env: 'bad' is not an env")


def _parse(argv: list[str]) -> Demo:
    return parse_config(Demo, argv, prog="demo")


def test_types_defaults_and_flags() -> None:
    cfg = _parse(["--env", "E", "--steps", "2e5", "--arch", "256,128", "--no-video", "--resume"])
    assert cfg == Demo(env="E", steps=200_000, arch=(256, 128), video=False, resume=True)
    assert _parse(["--env", "E", "--out", "runs/x"]).out == Path("runs/x")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "3"], "--env"),
        (["--env", "E", "--steps", "0"], "--steps must be >= 1"),
        (["--env", "E", "--steps", "1.5"], "--steps must be an integer"),
        (["--env", "E", "--steps", "1e400"], "--steps must be an integer"),
        (["--env", "E", "--lr", "nan"], "--lr must be a finite number"),
        (["--env", "E", "--lr", "-1"], "--lr must be > 0"),
        (["--env", "E", "--arch", "a,b"], "--arch must be comma-separated integers"),
        (["--env", "E", "--mode", "c"], "--mode"),
        (["--env", "bad"], "--env: 'bad' is not an env"),
    ],
)
def test_errors_exit_2_naming_the_argument(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_documents_every_option_with_its_default() -> None:
    text = build_parser(Demo, "demo").format_help()
    for flag in ("--env", "--steps", "--lr", "--arch", "--mode", "--out", "--video", "--resume"):
        assert flag in text
    assert "(default: 100)" in text and "(default: 64,64)" in text and "(default: on)" in text


def test_run_cli_turns_user_errors_into_one_line(capsys) -> None:
    def fail() -> int:
        raise UserError("needs the 'baselines' extra:\npip install x")

    assert run_cli("demo", fail) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("demo: error: needs the 'baselines' extra")
    with pytest.raises(UserError):
        run_cli("demo", fail, verbose=True)


def test_mutable_defaults_are_rejected() -> None:
    with pytest.raises(TypeError, match="tuple"):
        option([1, 2], help="x")
