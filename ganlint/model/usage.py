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
from ganlint.model.values import Model


def modules_using(model: Model, all_facts: Iterable[Facts]) -> set[int]:
    """The ids of the modules where ``model``, or a model that holds it, is built or used."""
    facts = list(all_facts)
    holders = {id(model)}
    for other in (m for f in facts for m in f.models):
        if model in nested_models(other):
            holders.add(id(other))
    found = {id(model.site.module)}
    for f in facts:
        sites = [c.site for c in f.model_calls if id(c.model) in holders]
        sites += [c.site for c in f.compiles if id(c.model) in holders]
        sites += [c.site for c in f.training_calls if id(c.model) in holders]
        sites += [a.site for a in f.trainable_assignments if a.model is not None and id(a.model) in holders]
        sites += [a.site for a in f.gradient_applications
                  if a.variables_of is not None and id(a.variables_of) in holders]
        sites += [m.site for m in f.models if id(m) in holders]
        found.update(id(site.module) for site in sites)
    return found
