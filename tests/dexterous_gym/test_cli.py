import imageio.v2 as imageio
import pytest

from dexterous_gym.__main__ import main


def test_list_prints_every_id(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "TwoEggCatchUnderArm-v0" in out and "PenSpin-v0" in out
    assert "PenReorientation-v0" in out  # beyond the original 31
    assert len([line for line in out.splitlines() if "-v0" in line]) == 32


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


def test_rollout_rejects_bad_arguments(tmp_path, capsys, monkeypatch):
    # user mistakes: one line naming the argument, exit status 2, nothing written
    assert main(["rollout", "EggCatch-v0", "--out", str(tmp_path / "a.gif")]) == 2
    assert "env_id must be one of" in capsys.readouterr().err
    assert main(["rollout", "PenSpin-v0", "--out", str(tmp_path / "a.avi")]) == 2
    assert "--out must end in one of" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["rollout", "PenSpin-v0", "--steps", "0"])
    assert exc.value.code == 2 and "--steps must be >= 1" in capsys.readouterr().err
    # MP4 without ffmpeg: the extra to install is named before any step is taken
    import dexterous_gym.video

    monkeypatch.setattr(dexterous_gym.video, "mp4_available", lambda: False)
    assert main(["rollout", "PenSpin-v0", "--out", str(tmp_path / "a.mp4")]) == 2
    assert 'pip install "dexterous-gym[video]"' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
