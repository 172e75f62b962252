"""`edzoo search`: find models in a registry's catalog, by words, subject, grade, task, device."""

from __future__ import annotations

import json
from pathlib import Path

import click

from registry.cli.options import cache_option, device_profile, json_option


@click.command()
@click.argument("query", required=False)
@click.option(
    "--registry", "registry_url", envvar="EDZOO_REGISTRY", required=True, help="Registry URL [env EDZOO_REGISTRY]."
)
@click.option("--task", default=None, help="Only this task, e.g. handwriting, speech, grammar.")
@click.option("--subject", default=None, help="Only models for this subject, e.g. math.")
@click.option("--grade", default=None, help="Only models for this grade, e.g. 3.")
@click.option("--namespace", default=None, help="Only this publisher's models.")
@click.option(
    "--device",
    default=None,
    help="Only models with a variant that runs on this device (a reference id, a profile .json, or `this`); "
    "shows the variant it would get.",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500), help="At most this many.")
@cache_option("Cache folder, where `--device this` keeps its probe [default: $EDZOO_CACHE or ~/.cache/edzoo].")
@json_option("One JSON object: total and models.")
def search(
    query: str | None,
    registry_url: str,
    task: str | None,
    subject: str | None,
    grade: str | None,
    namespace: str | None,
    device: str | None,
    limit: int,
    cache_dir: Path | None,
    as_json: bool,
) -> None:
    """List the registry's models whose name or summary holds QUERY's words, each described by
    its latest release; the filters combine.

    \b
      edzoo search digits --registry URL
      edzoo search --subject math --grade 3 --device android-go-1gb --registry URL

    The catalog is a hint: `edzoo pull` verifies what it fetches against the signed metadata.
    """
    from registry.client.catalog import search as do_search
    from registry.client.http import ClientConfig

    profile = device_profile(device, cache_dir) if device else None
    total, hits = do_search(
        registry_url,
        query,
        task=task,
        subject=subject,
        grade=grade,
        namespace=namespace,
        device=profile,
        limit=limit,
        config=ClientConfig.from_env(),
    )
    if as_json:
        click.echo(json.dumps({"total": total, "models": [h.to_json() for h in hits]}, indent=2))
        return
    if not hits:
        click.echo("no model matches", err=True)
        return
    rows = [(h.id, h.model.get("latest") or "-", h.variant or "", h.model.get("summary", "")) for h in hits]
    width = max(len(r[0]) for r in rows)
    for model_id, latest, variant, summary in rows:
        extra = f"  [{variant}]" if profile is not None else ""
        click.echo(f"{model_id:<{width}}  {latest:<10}{extra}  {summary}")
    shown = f"{len(hits)} of {total}" if total > len(hits) else f"{total}"
    click.echo(
        f"{shown} model{'s' if total != 1 else ''}" + (f" that run on {profile['id']}" if profile else ""), err=True
    )


COMMANDS = [search]
