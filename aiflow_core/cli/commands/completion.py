"""``aiflow completion bash|zsh``: shell completion scripts generated from the parser itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from aiflow_core.cli.parser import command

Node = tuple[str, list[str], list[str], dict[str, list[str]]]

_BASH_MAIN = r"""
_aiflow() {
    local cur prev cmdpath="" w i subs choices
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    for ((i=1; i<COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        [[ "$w" == -* ]] && continue
        subs=" $(_aiflow_subcommands "$cmdpath") "
        [[ "$subs" == *" $w "* ]] && cmdpath="${cmdpath:+$cmdpath }$w"
    done
    choices="$(_aiflow_choices "$cmdpath" "$prev")"
    if [[ -n "$choices" ]]; then
        COMPREPLY=($(compgen -W "$choices" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -W "$(_aiflow_words "$cmdpath")" -- "$cur"))
}
complete -o default -F _aiflow aiflow
"""

_ZSH_MAIN = r"""
_aiflow() {
    local cmdpath="" w i subs choices
    local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}"
    for ((i=2; i<CURRENT; i++)); do
        w="${words[i]}"
        [[ "$w" == -* ]] && continue
        subs=" $(_aiflow_subcommands "$cmdpath") "
        [[ "$subs" == *" $w "* ]] && cmdpath="${cmdpath:+$cmdpath }$w"
    done
    choices="$(_aiflow_choices "$cmdpath" "$prev")"
    if [[ -n "$choices" ]]; then
        compadd -- ${=choices}
        return
    fi
    compadd -- ${=$(_aiflow_words "$cmdpath")}
    if [[ -z "$(_aiflow_subcommands "$cmdpath")" && "$cur" != -* ]]; then
        _files
    fi
}
if ! (( $+functions[compdef] )); then
    autoload -Uz compinit && compinit
fi
compdef _aiflow aiflow
"""


def walk(parser: argparse.ArgumentParser, path: str = "") -> Iterator[Node]:
    """Yield (command path, subcommands, other words, option choices) for every parser of the tree."""
    subs: list[str] = []
    words: list[str] = []
    choices: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                subs.append(name)
                yield from walk(child, f"{path} {name}".strip())
        elif action.option_strings:
            words.extend(action.option_strings)
            if action.choices:
                for option in action.option_strings:
                    choices[option] = [str(c) for c in action.choices]
        elif action.choices:
            words.extend(str(c) for c in action.choices)
    yield path, subs, words, choices


def _functions(parser: argparse.ArgumentParser) -> str:
    nodes = list(walk(parser))
    subcommands = [f'        "{p}") echo "{" ".join(s)}" ;;' for p, s, _, _ in nodes if s]
    words = [f'        "{p}") echo "{" ".join(s + w)}" ;;' for p, s, w, _ in nodes]
    choices = [
        f'        "{p}|{option}") echo "{" ".join(values)}" ;;'
        for p, _, _, c in nodes for option, values in c.items()
    ]
    return "\n".join([
        "_aiflow_subcommands() {", '    case "$1" in', *subcommands, "    esac", "}",
        "_aiflow_words() {", '    case "$1" in', *words, "    esac", "}",
        "_aiflow_choices() {", '    case "$1|$2" in', *choices, "    esac", "}",
    ])


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script of ``aiflow`` for ``shell`` (``bash`` or ``zsh``)."""
    header = (
        "#compdef aiflow\n# zsh completion for aiflow: add `eval \"$(aiflow completion zsh)\"` to ~/.zshrc\n"
        if shell == "zsh"
        else "# bash completion for aiflow: add `eval \"$(aiflow completion bash)\"` to ~/.bashrc\n"
    )
    return header + _functions(parser) + "\n" + (_ZSH_MAIN if shell == "zsh" else _BASH_MAIN)


def _completion(args: argparse.Namespace, ctx: Any) -> int:
    ctx.write(script(args.shell, args.root_parser))
    return 0


def register(sub: Any) -> None:
    """Register ``aiflow completion``."""
    p = command(sub, "completion", _completion, "Print a shell completion script for bash or zsh.",
                'eval "$(aiflow completion bash)"   # in ~/.bashrc\n'
                'eval "$(aiflow completion zsh)"    # in ~/.zshrc')
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell")
