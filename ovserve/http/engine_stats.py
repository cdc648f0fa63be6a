"""Metric families filled from the stats each engine sends every worker each second (see metrics.engine_families
for why the worker answering the scrape reports its own copy)."""


def stat_families(registry, kinds, families):
    """`families` ([(metric family, engine stats key)]) with a sample per ready servable of one of `kinds`
    whose engine reports the key; only those that got one."""
    for servable in registry:
        if servable.kind not in kinds or not servable.is_ready():
            continue
        engine = servable.terminal.stats().get("engine", {})
        for family, key in families:
            if key in engine:
                family.add_metric([servable.name], engine[key])
    return [family for family, _ in families if family.samples]
