"""A border post's replica of the registry: follows the centre's change feed into its own embedded
registry and hands the checks it answered to the centre (``sync``)."""
