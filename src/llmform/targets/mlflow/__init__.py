"""MLflow's AI Gateway as a target (issue 12): for now its REST client (``client``), the records
it returns (``records``) and its errors (``errors``); the target itself comes next."""
