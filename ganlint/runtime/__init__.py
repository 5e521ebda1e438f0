"""`ganlint profile`: train a GAN briefly, measure what its gradients do, and judge each finding.

Layout (only the modules marked TF import TensorFlow, and only inside the child process):

- ``command``    the click command; runs the static check, starts the worker, prints the report.
- ``worker``     (TF) the child process: loads the models, trains under hooks, writes TensorBoard,
                 computes verdicts, writes a JSON result.
- ``loader``     (TF) convention, tripwire exec and static slice loading of the user's script.
- ``instrument`` (TF) hooks on optimizers, losses and model calls; fast histograms.
- ``slicer``     the static slice (imports, definitions, model construction) with ``ast``.
- ``events``     reads event files back without TensorFlow.
- ``probes``     one class per kind of evidence, fed numpy arrays.
- ``verdicts``   the decision per finding from the probes' results.
- ``report``     text table and JSON.
"""
