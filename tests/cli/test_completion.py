"""Shell completion scripts generated from the parser."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.cli.conftest import Cli


def _complete(script: str, *words: str) -> list[str]:
    quoted = " ".join(f"'{w}'" for w in words)
    probe = f'{script}\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n_aiflow\necho "${{COMPREPLY[@]}}"\n'
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completion_walks_groups_commands_options_and_choices(cli: Cli) -> None:
    script = cli("completion", "bash").stdout
    assert "complete -o default -F _aiflow aiflow" in script
    assert _complete(script, "aiflow", "workflow-") == ["workflow-execution", "workflow-schedule", "workflow-trigger"]
    assert _complete(script, "aiflow", "workflow", "s") == ["show"]
    assert "--namespace" in _complete(script, "aiflow", "workflow", "list", "--")
    assert _complete(script, "aiflow", "workflow", "list", "-o", "") == ["table", "json", "yaml", "plain"]
    assert _complete(script, "aiflow", "--verbose", "task-execution", "show", "1", "--output", "y") == ["yaml"]
    assert _complete(script, "aiflow", "workflow", "show", "wf", "--format", "") == ["mermaid", "dot"]
    expected = {"bash", "zsh", "-h", "--help", "--db-url", "-v", "--verbose", "--debug"}
    assert set(_complete(script, "aiflow", "completion", "")) == expected


def test_zsh_completion_script(cli: Cli) -> None:
    script = cli("completion", "zsh").stdout
    assert script.startswith("#compdef aiflow") and "compdef _aiflow aiflow" in script
    assert '"workflow-execution") echo "start stop stop-all delete show list"' in script
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed; the zsh script was checked as text only")
    subprocess.run([zsh, "-n", "-c", script], check=True)
    probe = script.split("\n_aiflow() {")[0] + '\necho "$(_aiflow_choices "workflow list" -o)"\n'
    out = subprocess.run([zsh, "-f", "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["table", "json", "yaml", "plain"]
