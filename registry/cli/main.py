"""The ``edzoo`` command.

Errors become one line on stderr and an exit code (see ``registry.core.errors``): 2 bad input,
3 auth, 4 verification failed, 5 conflict, 6 not found, 7 storage, 8 network, 9 not cached,
10 no compatible variant, 13 withdrawn.
Server-side commands import Flask and SQLAlchemy lazily, so the client install stays small.
"""

from __future__ import annotations

import click

from registry.cli import (
    admin,
    cache,
    device,
    keys,
    predict_command,
    publish,
    pull,
    recall,
    registry_keys,
    renewal,
    schools_bundle,
    schools_mirror,
    schools_plan,
    search,
    zoo_commands,
)
from registry.cli.options import EdzooGroup


@click.group(cls=EdzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edzoo")
def cli() -> None:
    """edzoo: signed education models for student devices.

    \b
    App developers:  edzoo search digits --registry URL
                     edzoo pull edzoo/hello --registry URL --root root.json
    ML engineers:    edzoo optimize MODEL --data DATA --task KIND; edzoo keys new me;
                     edzoo publish BUILD_DIR --registry URL --key ...
    Registry admins: edzoo registry init DATA; edzoo registry add-publisher ...; edzoo serve
    For years:       edzoo registry status DATA; registry renew; registry rotate-keys; yank

    Every file is verified with The Update Framework (TUF) before it is handed over.
    """


# Each module exports its commands; `edzoo registry` takes the admin's commands of several.
for _module in (keys, admin, publish, pull, search, device, cache, recall, renewal, predict_command, zoo_commands):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
for _module in (schools_plan, schools_bundle, schools_mirror):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
for _module in (recall, renewal, registry_keys):
    for _command in _module.REGISTRY_COMMANDS:
        admin.registry.add_command(_command)


def main() -> None:
    cli(prog_name="edzoo")
