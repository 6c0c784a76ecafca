"""Adaptive library evolution: calls into Python that get faster by themselves, safely.

    registry    candidates, their states and the audit log, in the usage database
    patterns    which calls a candidate accepts (a generalised signature, compiled to a check)
    intents     candidates from the intent mapping (numpy.dot, math.sqrt, ... -> Noodle operations)
    transpile   candidates from plain-Python functions, translated to Noodle source
    validate    the candidate against the original, in a sandbox VM, on samples and generated inputs
    benchmark   the candidate against the original at the recorded shapes
    serving     replacements for live calls: promoted ones, and canaries shadow-compared (Scientist)
    evolve      the loop: hot calls -> candidates -> validation -> benchmark -> canary -> promotion
    report      the figures `noodle ale status/report` shows, and the HTML page

ALE runs Noodle code only through a VM it is handed (`vm_factory`): the layer of the embedding
API is its sibling, so the tools make the VMs and pass them in.
"""
