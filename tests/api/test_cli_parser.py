"""The ``autovid`` parser: running one command declares only that command's arguments."""

from __future__ import annotations

from autovid_cli.main import COMMANDS, build_parser, command_name


def _declared(parser) -> set[str]:  # noqa: ANN001 - an argparse parser
    return set(parser._subparsers._group_actions[0].choices)


def test_each_command_is_declared_under_the_name_its_registration_function_gives() -> None:
    names = {command_name(function) for _module, function in COMMANDS}
    assert _declared(build_parser()) == names
    for name in names:
        assert _declared(build_parser(name)) == {name}
