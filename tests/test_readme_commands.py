"""README's commands still run as written.

Every ``ganbench`` command in README's code blocks is parsed by the CLI with its commands'
bodies replaced, so options, arguments and their types are checked and nothing runs; a command
with placeholders (``N``, ``DIR``, ``[--json]``, ``a|b``) and every inline synopsis are checked for
their subcommand and option names. Every ``benchmarks/`` script README runs exists and defines
each option it is shown with (read from its ``add_argument`` calls, without importing it).
"""

from __future__ import annotations

import ast
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from ganbench.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SEPARATORS = ("&&", "||", "|", ";")
PLACEHOLDER = re.compile(r"[\[\]{}|$]|\.\.\.|^[A-Z][A-Z_]*$")
OPTION = re.compile(r"^\[?(--?[A-Za-z][A-Za-z0-9-]*)")


def code_lines() -> list[str]:
    """README's fenced and indented code lines, a line ending in a backslash joined to the next."""
    lines, fenced = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            lines.append(line if fenced else line[4:])
        else:
            lines.append("")
    joined, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1].strip() + " "
        else:
            joined.append(current + line.strip())
            current = ""
    return [line for line in joined if line]


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, environment assignments and prompts dropped."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    found, current = [], []
    for word in [*words, ";"]:
        if word in SEPARATORS:
            while current and (current[0] == "$" or re.match(r"^[A-Z_]+=", current[0])):
                current.pop(0)
            if current:
                found.append(current)
            current = []
        else:
            current.append(word)
    return found


def cli_words(command: list[str]) -> list[str] | None:
    """The arguments after ``ganbench`` (or ``python -m ganbench``), or None for another program."""
    if command[0] == "ganbench":
        return command[1:]
    if command[0].startswith("python") and command[1:3] == ["-m", "ganbench"]:
        return command[3:]
    return None


SHOWN = [words for line in code_lines() for command in commands(line)
         if (words := cli_words(command)) is not None and words and words[0] != "..."]
INLINE = [text.replace("\\|", "|") for text in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S))]
SYNOPSES = [shlex.split(text)[1:] for text in INLINE if text.startswith("ganbench ")]
SCRIPTS = [command[1:] for line in [*code_lines(), *INLINE] for command in commands(line)
           if command[0].startswith("python") and len(command) > 1 and command[1].startswith("benchmarks/")]


@cache
def silenced_cli() -> tuple[Any, list[tuple[str, ...]]]:
    """The CLI's command tree with every command's body replaced by a note of its name."""
    root, called = typer.main.get_command(app), []

    def silence(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                silence(sub, (*path, name))
        else:
            command.callback = lambda **_: called.append(path)

    silence(root, ())
    return root, called


def subcommand(words: list[str]) -> tuple[Any, tuple[str, ...]]:
    """The command ``words`` name and its path (``("leaderboard", "show")``)."""
    command, path = silenced_cli()[0], ()
    for word in words:
        if not hasattr(command, "commands") or word not in command.commands:
            break
        command, path = command.commands[word], (*path, word)
    return command, path


def check_option_names(words: list[str]) -> tuple[str, ...]:
    command, path = subcommand(words)
    assert path and not hasattr(command, "commands"), f"`ganbench {' '.join(words)}` names no command"
    names = {"--help"} | {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    used = {match.group(1) for word in words if (match := OPTION.match(word))}
    assert used <= names, f"`ganbench {' '.join(words)}`: no option {sorted(used - names)} of {' '.join(path)}"
    return path


def test_readme_shows_commands_of_the_cli_and_the_benchmarks() -> None:
    assert len(SHOWN) >= 25 and len(SYNOPSES) >= 20 and len(SCRIPTS) >= 40


@pytest.mark.parametrize("words", SHOWN, ids=lambda words: " ".join(words)[:60])
def test_each_shown_command_parses(words: list[str]) -> None:
    path = check_option_names(words)
    if any(PLACEHOLDER.search(word) for word in words):
        return
    root, called = silenced_cli()
    called.clear()
    root.main(list(words), prog_name="ganbench", standalone_mode=False)
    assert called == [path]


@pytest.mark.parametrize("words", SYNOPSES, ids=lambda words: " ".join(words)[:60])
def test_each_inline_command_names_its_options(words: list[str]) -> None:
    if words[0] != "...":
        check_option_names(words)


@cache
def script_options(script: str) -> frozenset[str]:
    tree = ast.parse((ROOT / script).read_text())
    return frozenset(arg.value for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and node.func.attr == "add_argument"
                     for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))


@pytest.mark.parametrize("words", SCRIPTS, ids=lambda words: " ".join(words)[:60])
def test_each_benchmark_command_names_its_scripts_options(words: list[str]) -> None:
    script, *arguments = words
    assert (ROOT / script).is_file(), f"README runs {script}, which does not exist"
    used = {match.group(1) for word in arguments if (match := OPTION.match(word))}
    missing = used - script_options(script) - {"--help", "-h"}
    assert not missing, f"`{script}` has no option {sorted(missing)}"
