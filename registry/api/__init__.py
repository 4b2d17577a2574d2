"""HTTP resources of the v1 API: thin views over the service layer."""
