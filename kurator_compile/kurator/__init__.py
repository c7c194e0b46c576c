"""Kurator's own API (kurator-dev/kurator), compiled into the objects its controllers create.

Each module here is a pure function from Kurator documents and the fleet's inventory to
`Generated` objects: no disk, no placement. The stack registry decides when each runs and
which output folder (the host, or a member cluster) receives what it yields.
"""
