"""`reconwb sim aggregator`: the simulated aggregator in the foreground. `add_sim_aggregator` puts the command
on the `sim` group (which lives with the bank simulator's CLI)."""

from __future__ import annotations

import json
import threading

import click

from reconwb.sim import aggregator as sim


def add_sim_aggregator(group: click.Group) -> click.Command:
    @group.command("aggregator")
    @click.option("--port", type=int, default=8765, show_default=True)
    @click.option("--webhook-url", help="Where the simulator POSTs its signed webhooks.")
    @click.option("--print-scenario", is_flag=True, help="Print the built-in banks and logins as JSON and exit.")
    def sim_aggregator(port: int, webhook_url: str | None, print_scenario: bool) -> None:
        """Run the simulated aggregator on 127.0.0.1 until interrupted."""
        if print_scenario:
            click.echo(json.dumps(sim.scenario(), indent=2))
            return
        handle = sim.start_aggregator(port, webhook_url)
        click.echo(f"aggregator simulator on {handle.url} (app token and webhook secret: --print-scenario)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            handle.stop()

    return sim_aggregator
