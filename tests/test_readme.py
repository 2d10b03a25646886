from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_lines = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.startswith("python3 -m venv")]
    assert len(ci_lines) == 1
    assert ci_lines[0] in readme
    assert "pip install torch==2.13.0 && " in ci_lines[0]  # torch first: the local CPU wheel


def test_readme_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    commands = [ln for ln in readme.splitlines() if ln.startswith("python3 -m venv .venv")]
    assert len(commands) == 2
    assert "genzoo train" in commands[0] and "pytest" in commands[1]
