"""MLflow's AI Gateway as a target (issue 12): the target (``target``), the mapping of llmform's
resources onto the gateway's objects (``mapping``), the REST client (``client``), the records
it returns (``records``) and its errors (``errors``)."""
