import imageio.v2 as imageio
import pytest

from dexterous_gym.__main__ import main


def test_list_prints_every_id(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "TwoEggCatchUnderArm-v0" in out and "PenSpin-v0" in out
    assert len([line for line in out.splitlines() if "-v0" in line]) == 31


def test_rollout_writes_a_gif(tmp_path, capsys):
    out = tmp_path / "egg.gif"
    argv = [
        "rollout",
        "EggCatchUnderarm-v0",
        "--steps",
        "4",
        "--out",
        str(out),
        "--width",
        "64",
        "--height",
        "48",
    ]
    assert main(argv) == 0
    frames = imageio.mimread(out)
    assert len(frames) == 5 and frames[0].shape[:2] == (48, 64)
    assert "4 steps" in capsys.readouterr().out


def test_rollout_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="env_id"):
        main(["rollout", "EggCatch-v0", "--out", str(tmp_path / "a.gif")])
    with pytest.raises(SystemExit, match="--out"):
        main(["rollout", "PenSpin-v0", "--out", str(tmp_path / "a.avi")])
