"""Where in the run a network is used: the modules that build, call, compile, train or freeze it.

Some evidence cannot be tied to a network (`layer.trainable = False` over layers the model does
not follow, a clip of weights it cannot resolve). Such evidence counts for the networks used in
the module that holds it: code that reaches a network's weights has the network at hand there.
Tying it to modules rather than to the whole run keeps a finding in one file independent of
unrelated files linted with it (worker processes lint groups of related files on their own).
"""

from __future__ import annotations

from collections.abc import Iterable

from ganlint.model.facts import Facts
from ganlint.model.graph import nested_models
from ganlint.model.values import Model, Site


def usage_index(all_facts: Iterable[Facts]) -> dict[int, frozenset[int]]:
    """For each model's id, the ids of the modules where it, or a model that holds it (a combined
    model around a discriminator), is built or used. One pass over the run."""
    facts = list(all_facts)
    direct: dict[int, set[int]] = {}

    def used(model: Model | None, site: Site) -> None:
        if model is not None:
            direct.setdefault(id(model), set()).add(id(site.module))

    models = [m for f in facts for m in f.models]
    for f in facts:
        for model in f.models:
            used(model, model.site)
        for call in f.model_calls:
            used(call.model, call.site)
        for compiled in f.compiles:
            used(compiled.model, compiled.site)
        for training in f.training_calls:
            used(training.model, training.site)
        for assignment in f.trainable_assignments:
            used(assignment.model, assignment.site)
        for application in f.gradient_applications:
            used(application.variables_of, application.site)
    index = {id(m): set(direct.get(id(m), ())) for m in models}
    for holder in models:  # what a combined model's code does, it does to the networks inside it
        for inner in nested_models(holder):
            index.setdefault(id(inner), set()).update(direct.get(id(holder), ()))
    return {key: frozenset(value) for key, value in index.items()}
